// The grid of post-processing settings a model's tuning chooses from (src/postprocess/tune.ts scores it). No imports:
// the experiment spec's schema reads the default grid from here.

/**
 * Where the watershed seeds come from (PostprocessOptions.markers): the paper's peaks of the smoothed
 * distance map, or the components of a three-class net's interior map.
 */
export const SEED_RULES = ['distance', 'interior'] as const;
export type SeedRule = (typeof SEED_RULES)[number];

/** Values to try per tunable post-processing parameter; the grid is their cartesian product. */
export interface PostprocessGrid {
  /** Stage-1 probability thresholds (PostprocessOptions.threshold). */
  readonly threshold: readonly number[];
  /** Gaussian sigma as a multiple of the mean nucleus radius (SigmaOptions.scale). */
  readonly sigmaScale: readonly number[];
  /** Seed spacing as a multiple of the mean nucleus radius (PostprocessOptions.minDistanceScale). */
  readonly minDistanceScale: readonly number[];
  /** Pixels the instances grow into the background (PostprocessOptions.expand). */
  readonly expand: readonly number[];
  /**
   * Seed rules to try (PostprocessOptions.markers); absent: the run's one rule. 'interior' needs a
   * three-class segmentation net.
   */
  readonly markers?: readonly SeedRule[];
}

/** One point of a grid. */
export interface PostprocessSetting {
  readonly threshold: number;
  readonly sigmaScale: number;
  readonly minDistanceScale: number;
  readonly expand: number;
  /** Present only when the grid lists seed rules. */
  readonly markers?: SeedRule;
}

/**
 * 480 settings. Left out because none was in the top 5 of the 360-setting grid that first allowed
 * growth (model cpu-60min-nodrop-s2): thresholds under 0.7, sigma 0.4 r and seed spacing 0.25 r, and a
 * seed threshold (peakThreshold). Fixed on 2026-11-26, before the shipped model was trained.
 */
export const FULL_GRID: PostprocessGrid = {
  threshold: [0.97, 0.95, 0.9, 0.85, 0.8, 0.7],
  sigmaScale: [0.55, 0.7, 0.85, 1.0],
  minDistanceScale: [0.5, 0.75, 1.0, 1.25],
  expand: [0, 1, 2, 3, 4],
};

/**
 * 48 of the full grid's settings, around the top 5 of the earlier shipped model cpu-60min-nodrop-s2 (all
 * threshold 0.9 and expand 2; sigma 0.55-1.0 r, seed spacing 1.0-1.25 r): the grid that chose the
 * shipped model's post-processing, and the spec's default grid.
 */
export const COARSE_GRID: PostprocessGrid = {
  threshold: [0.95, 0.9, 0.85, 0.8],
  sigmaScale: [0.7, 1.0],
  minDistanceScale: [0.75, 1.25],
  expand: [1, 2, 3],
};

/**
 * Every setting of the grid, the seed rule (when listed) varying slowest, then threshold, expand
 * fastest (the order ties are broken in).
 */
export function gridSettings(grid: PostprocessGrid): PostprocessSetting[] {
  const numeric = grid.threshold.flatMap((threshold) =>
    grid.sigmaScale.flatMap((sigmaScale) =>
      grid.minDistanceScale.flatMap((minDistanceScale) =>
        grid.expand.map((expand) => ({ threshold, sigmaScale, minDistanceScale, expand })),
      ),
    ),
  );
  return grid.markers ? grid.markers.flatMap((markers) => numeric.map((s) => ({ markers, ...s }))) : numeric;
}

/**
 * The stable key a setting is stored under, e.g. 'thr=0.9,sigma=0.7,seed=0.75,grow=2', with
 * ',seeds=<rule>' appended when the grid lists seed rules.
 */
export function settingKey(s: PostprocessSetting): string {
  const base = `thr=${s.threshold},sigma=${s.sigmaScale},seed=${s.minDistanceScale},grow=${s.expand}`;
  return s.markers ? `${base},seeds=${s.markers}` : base;
}
