// Planning the regions a slide is segmented in: a grid of cores over level 0, each read with a context margin.
//
// Conventions: all boxes are level-0 pixels, half-open, [x, x + width) x [y, y + height). Cores tile the slide
// exactly: core (row, col) is [col * C, min((col + 1) * C, W)) x [row * C, min((row + 1) * C, H)), so the last
// column and row are narrower when C does not divide the slide. The window read for a core is the core grown by M
// on each side and clipped to the slide; `clip` says how much of each side's margin the slide edge removed.
// Regions come in row-major order of (row, col); their id `r{row}c{col}` does not depend on tissue filtering.
// Tissue filtering keeps a region iff some tissue mask pixel overlapping its core (in level-0 terms) is tissue.
import type { TissueMask } from './tissue.ts';

/** A half-open level-0 box [x, x + width) x [y, y + height). */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Region {
  /** `r{row}c{col}`: stable across runs and filtering. */
  readonly id: string;
  readonly row: number;
  readonly col: number;
  /** The part of level 0 this region reports nuclei for (see stitch.ts). */
  readonly core: Box;
  /** The level-0 box to read and segment: the core plus the margin, clipped to the slide. */
  readonly window: Box;
  /** Margin pixels the slide edge removed on each side (0 = the full margin was read). */
  readonly clip: {
    readonly left: number;
    readonly top: number;
    readonly right: number;
    readonly bottom: number;
  };
  /** Which sides of the window lie on the slide's edge (nothing beyond them can be cut off). */
  readonly slideEdge: {
    readonly left: boolean;
    readonly top: boolean;
    readonly right: boolean;
    readonly bottom: boolean;
  };
}

export interface RegionPlan {
  /** Slide level-0 size. */
  readonly width: number;
  readonly height: number;
  readonly core: number;
  readonly margin: number;
  /** Grid size before tissue filtering. */
  readonly cols: number;
  readonly rows: number;
  /** Slide mpp / model mpp: the factor a region's window is resampled by before the net (1 = none). Recorded only. */
  readonly scale: number;
  /** Kept regions, row-major. */
  readonly regions: readonly Region[];
  /** Regions dropped for having no tissue in their core. */
  readonly skipped: number;
}

export interface PlanOptions {
  /** Core side in level-0 px. Default 1024. */
  readonly core?: number;
  /** Context margin on each side in level-0 px. Default 64 (16 um at 0.25 um/px; see stitch.ts for what it bounds). */
  readonly margin?: number;
  /** Keep only regions whose core touches tissue in this mask. */
  readonly tissue?: Pick<TissueMask, 'mask' | 'downsample'>;
  /** Microns per level-0 pixel of the slide and of the model's training images; scale = slideMpp / modelMpp. */
  readonly slideMpp?: number;
  readonly modelMpp?: number;
}

export const REGION_DEFAULTS = { core: 1024, margin: 64 } as const;

/** True iff a mask pixel overlapping level-0 box `b` is set. Mask pixel i covers [i * d, (i + 1) * d). O(box area / d^2). */
export function boxTouchesMask(b: Box, tissue: Pick<TissueMask, 'mask' | 'downsample'>): boolean {
  const { mask, downsample: d } = tissue;
  const i0 = Math.max(0, Math.floor(b.x / d));
  const j0 = Math.max(0, Math.floor(b.y / d));
  const i1 = Math.min(mask.width, Math.ceil((b.x + b.width) / d));
  const j1 = Math.min(mask.height, Math.ceil((b.y + b.height) / d));
  for (let j = j0; j < j1; j++)
    for (let i = i0; i < i1; i++) if (mask.data[j * mask.width + i] !== 0) return true;
  return false;
}

/**
 * Plans the regions of a width x height level-0 slide (conventions in this file's header). Pure;
 * O(grid cells + mask pixels).
 */
export function planRegions(size: { width: number; height: number }, opts: PlanOptions = {}): RegionPlan {
  const { width: W, height: H } = size;
  const C = opts.core ?? REGION_DEFAULTS.core;
  const M = opts.margin ?? REGION_DEFAULTS.margin;
  if (!Number.isSafeInteger(W) || !Number.isSafeInteger(H) || W <= 0 || H <= 0) {
    throw new RangeError(`planRegions: invalid slide size ${W}x${H}`);
  }
  if (!Number.isSafeInteger(C) || C <= 0)
    throw new RangeError(`planRegions: core must be a positive integer, got ${C}`);
  if (!Number.isSafeInteger(M) || M < 0)
    throw new RangeError(`planRegions: margin must be an integer >= 0, got ${M}`);
  let scale = 1;
  if (opts.slideMpp !== undefined || opts.modelMpp !== undefined) {
    const s = opts.slideMpp;
    const m = opts.modelMpp;
    if (!(s! > 0) || !(m! > 0)) {
      throw new RangeError(`planRegions: slideMpp and modelMpp must both be > 0, got ${s} and ${m}`);
    }
    scale = s! / m!;
  }
  if (opts.tissue) {
    const { mask, downsample: d } = opts.tissue;
    // The mask must cover the slide to within one mask pixel (OpenSlide rounds level sizes either way).
    if (Math.abs(mask.width * d - W) > d || Math.abs(mask.height * d - H) > d) {
      throw new RangeError(
        `planRegions: tissue mask ${mask.width}x${mask.height} at downsample ${d} does not cover the ${W}x${H} slide`,
      );
    }
  }
  const cols = Math.ceil(W / C);
  const rows = Math.ceil(H / C);
  const regions: Region[] = [];
  let skipped = 0;
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const x0 = col * C;
      const y0 = row * C;
      const x1 = Math.min(x0 + C, W);
      const y1 = Math.min(y0 + C, H);
      const core = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
      if (opts.tissue && !boxTouchesMask(core, opts.tissue)) {
        skipped++;
        continue;
      }
      const wx0 = Math.max(0, x0 - M);
      const wy0 = Math.max(0, y0 - M);
      const wx1 = Math.min(W, x1 + M);
      const wy1 = Math.min(H, y1 + M);
      regions.push({
        id: `r${row}c${col}`,
        row,
        col,
        core,
        window: { x: wx0, y: wy0, width: wx1 - wx0, height: wy1 - wy0 },
        clip: { left: wx0 - (x0 - M), top: wy0 - (y0 - M), right: x1 + M - wx1, bottom: y1 + M - wy1 },
        slideEdge: { left: wx0 === 0, top: wy0 === 0, right: wx1 === W, bottom: wy1 === H },
      });
    }
  }
  return { width: W, height: H, core: C, margin: M, cols, rows, scale, regions, skipped };
}
