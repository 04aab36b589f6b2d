/**
 * MoNuSeg / Aperio ImageScope XML annotations (Kumar et al., IEEE TMI 2017) to instance label maps,
 * following the organisers' own conversion so that the result equals the released `labels/`:
 * MATLAB poly2mask on the raw 1-based coordinates (see poly2mask.ts), regions in XML order,
 * first region wins where polygons overlap, ids 1..N given in XML order to the regions that
 * keep at least one pixel (so ids stay contiguous).
 *
 * Format: Annotations[@MicronsPerPixel] > Annotation > Regions > Region > Vertices > Vertex[@X,@Y],
 * X = column, Y = row, decimal strings, polygons not explicitly closed. `Regions` also holds a
 * RegionAttributeHeaders element, which is not a region and is ignored.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import type { LabelImage } from '../imaging/types.ts';
import { fillPoly2Mask, Poly2MaskScratch } from './poly2mask.ts';
import { scanXml, type XmlHandler, XmlSyntaxError } from './xml-scan.ts';

export interface Polygon {
  /** The Region's Id attribute (as written; may be empty). */
  readonly regionId: string;
  /** Vertex coordinates, 1-based pixel units as in the file: x = column, y = row. */
  readonly xs: Float64Array;
  readonly ys: Float64Array;
}

export interface Annotations {
  readonly polygons: Polygon[];
  /** Annotations@MicronsPerPixel, when present and numeric. */
  readonly micronsPerPixel: number | undefined;
}

export interface RasterisedAnnotations {
  readonly labels: LabelImage;
  /** Regions in the file. */
  readonly nRegions: number;
  /** Regions with fewer than 3 vertices: they enclose no area and are not drawn. */
  readonly skipped: number;
  /** Regions that were drawn but kept no pixel (outside the image, or covered by earlier regions). */
  readonly empty: number;
  /** Objects in `labels` (ids 1..nInstances). */
  readonly nInstances: number;
}

/** How far (pixels) vertices may lie outside the image before the XML is taken to belong to another image. */
export const OUTSIDE_TOLERANCE_PX = 10;

/** The element names from the root down to a Vertex. */
const PATH = ['Annotations', 'Annotation', 'Regions', 'Region', 'Vertices', 'Vertex'] as const;

/** Growable coordinate list, so a region's vertices cost no per-vertex allocation. */
class Coords {
  xs = new Float64Array(256);
  ys = new Float64Array(256);
  n = 0;
  push(x: number, y: number): void {
    if (this.n === this.xs.length) {
      const xs = new Float64Array(this.n * 2);
      const ys = new Float64Array(this.n * 2);
      xs.set(this.xs);
      ys.set(this.ys);
      this.xs = xs;
      this.ys = ys;
    }
    this.xs[this.n] = x;
    this.ys[this.n] = y;
    this.n++;
  }
}

/**
 * Parses the text of an Aperio XML file. `file` names the source in errors. Only
 * Annotations > Annotation > Regions > Region > Vertices > Vertex counts; anything else
 * (RegionAttributeHeaders, Attributes, Plots) is skipped.
 */
export function parseAnnotationXml(text: string, file: string): Annotations {
  const polygons: Polygon[] = [];
  const coords = new Coords();
  let regionId = '';
  let micronsPerPixel: number | undefined;
  // The open elements at depths 0..matched-1 are PATH[0..matched-1]; deeper ones are off the path.
  let matched = 0;
  const handler: XmlHandler = {
    open(name, attrs, depth) {
      if (depth === 0) {
        if (name !== 'Annotations') {
          throw new InputError(
            file,
            `not an Aperio annotation file (root element <${name}>, expected <Annotations>)`,
          );
        }
        const mpp = Number(attrs.get('MicronsPerPixel'));
        micronsPerPixel = Number.isFinite(mpp) && mpp > 0 ? mpp : undefined;
      }
      if (matched !== depth || name !== PATH[depth]) return;
      matched = depth + 1;
      if (name === 'Region') {
        regionId = attrs.get('Id') ?? '';
        coords.n = 0;
      } else if (name === 'Vertex') {
        const vx = attrs.get('X');
        const vy = attrs.get('Y');
        const x = vx !== undefined && vx.trim() !== '' ? Number(vx) : Number.NaN;
        const y = vy !== undefined && vy.trim() !== '' ? Number(vy) : Number.NaN;
        if (!Number.isFinite(x) || !Number.isFinite(y)) {
          throw new InputError(
            file,
            `region ${polygons.length + 1} (Id ${regionId || '?'}), vertex ${coords.n + 1}: ` +
              `X and Y must be numbers, got X=${JSON.stringify(vx ?? null)} Y=${JSON.stringify(vy ?? null)}`,
          );
        }
        coords.push(x, y);
      }
    },
    close(name, depth) {
      if (matched !== depth + 1) return;
      matched = depth;
      if (name === 'Region') {
        polygons.push({ regionId, xs: coords.xs.slice(0, coords.n), ys: coords.ys.slice(0, coords.n) });
      }
    },
  };
  try {
    scanXml(text, handler);
  } catch (err) {
    if (err instanceof XmlSyntaxError)
      throw new InputError(file, `malformed XML: ${err.message}`, { cause: err });
    throw err;
  }
  if (polygons.length === 0) throw new InputError(file, 'no annotated regions (zero <Region> elements)');
  return { polygons, micronsPerPixel };
}

/** Reads and parses an Aperio XML file; a missing or unreadable file is an InputError. */
export async function readAnnotationXml(path: string): Promise<Annotations> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      path,
      code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return parseAnnotationXml(text, path);
}

/**
 * Rasterises polygons into a width x height instance map with the organisers' rule. Throws
 * InputError naming `file` when vertices lie more than OUTSIDE_TOLERANCE_PX outside the image
 * (the annotation belongs to an image of another size).
 */
export function rasteriseAnnotations(
  ann: Annotations,
  size: { width: number; height: number },
  file: string,
): RasterisedAnnotations {
  const { width, height } = size;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`rasteriseAnnotations: invalid size ${width}x${height}`);
  }
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of ann.polygons) {
    for (let i = 0; i < p.xs.length; i++) {
      const x = p.xs[i]!;
      const y = p.ys[i]!;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  const t = OUTSIDE_TOLERANCE_PX;
  if (minX < 1 - t || minY < 1 - t || maxX > width + t || maxY > height + t) {
    throw new InputError(
      file,
      `annotation does not fit a ${width}x${height} image: vertices span x ${minX}..${maxX}, ` +
        `y ${minY}..${maxY} (more than ${t} px outside); is it the annotation of another image?`,
    );
  }
  const data = new Int32Array(width * height);
  const scratch = new Poly2MaskScratch();
  let skipped = 0;
  let empty = 0;
  let next = 1;
  for (const p of ann.polygons) {
    if (p.xs.length < 3) {
      skipped++;
      continue;
    }
    if (fillPoly2Mask(data, width, height, p.xs, p.ys, next, scratch) > 0) next++;
    else empty++;
  }
  return {
    labels: { width, height, data },
    nRegions: ann.polygons.length,
    skipped,
    empty,
    nInstances: next - 1,
  };
}

/** Reads an Aperio XML file and rasterises it (see rasteriseAnnotations). */
export async function annotationXmlToLabels(
  path: string,
  size: { width: number; height: number },
): Promise<RasterisedAnnotations> {
  return rasteriseAnnotations(await readAnnotationXml(path), size, path);
}
