// Post-processing selection on a model's training images: every setting of a grid (grid.ts) scored by mean AJI, Dice and F1.
//
// The nets' outputs are computed once per image by the caller; each setting only repeats the
// post-processing on them. The choice is the highest mean AJI (the paper's headline score); a tie
// goes to the setting that comes first in gridSettings order, so the choice is deterministic.
import type { FloatImage, LabelImage } from '../imaging/types.ts';
import { evaluate } from '../metrics/index.ts';
import {
  gridSettings,
  type PostprocessGrid,
  type PostprocessSetting,
  type SeedRule,
  settingKey,
} from './grid.ts';
import { iterativePostprocess, postprocess } from './pipeline.ts';

/** One tuning image: its ground truth and the two nets' outputs. */
export interface TuningImage {
  readonly id: string;
  readonly gt: LabelImage;
  readonly foreground: FloatImage;
  readonly distance: FloatImage;
  /** A three-class net's interior probability, for `markers: 'interior'`. */
  readonly interior?: FloatImage;
}

export interface SettingScore {
  readonly key: string;
  readonly setting: PostprocessSetting;
  /** Means over the images. */
  readonly aji: number;
  readonly dice: number;
  readonly f1: number;
  readonly images: number;
}

export interface TuneOptions {
  /** Score with iterativePostprocess (the spec's iterativeSizeReestimation), as inference will run. */
  readonly iterative?: boolean;
  /** Seeds as inference will take them (PostprocessOptions.markers); default 'distance'. */
  readonly markers?: SeedRule;
  /**
   * Called after each setting is scored (progress, heartbeats); awaited, so a caller can yield to
   * its event loop between settings or stop the search by throwing.
   */
  readonly onSetting?: (score: SettingScore, index: number, total: number) => void | Promise<void>;
}

export interface TuneResult {
  /** Every setting, in grid order. */
  readonly scores: SettingScore[];
  readonly chosen: SettingScore;
}

/** Mean AJI, Dice and F1 of one setting over the images. */
export function scoreSetting(
  setting: PostprocessSetting,
  images: readonly TuningImage[],
  opts: { iterative?: boolean; markers?: SeedRule } = {},
): SettingScore {
  if (images.length === 0) throw new RangeError('scoreSetting: no images to score on');
  let aji = 0;
  let dice = 0;
  let f1 = 0;
  for (const im of images) {
    const input = {
      foreground: im.foreground,
      distance: im.distance,
      threshold: setting.threshold,
      sigmaOptions: { scale: setting.sigmaScale },
      minDistanceScale: setting.minDistanceScale,
      expand: setting.expand,
      ...((setting.markers ?? opts.markers) ? { markers: setting.markers ?? opts.markers } : {}),
      ...(im.interior ? { interior: im.interior } : {}),
    };
    const labels = (opts.iterative ? iterativePostprocess(input) : postprocess(input)).labels;
    const e = evaluate(im.gt, labels);
    aji += e.aji;
    dice += e.dice;
    f1 += e.f1;
  }
  const n = images.length;
  return { key: settingKey(setting), setting, aji: aji / n, dice: dice / n, f1: f1 / n, images: n };
}

/** Scores every setting of `grid` on `images` and chooses the best mean AJI. */
export async function tunePostprocess(
  images: readonly TuningImage[],
  grid: PostprocessGrid,
  opts: TuneOptions = {},
): Promise<TuneResult> {
  const settings = gridSettings(grid);
  if (settings.length === 0) throw new RangeError('tunePostprocess: the grid has no settings');
  const scores: SettingScore[] = [];
  let chosen: SettingScore | undefined;
  for (const [i, s] of settings.entries()) {
    const score = scoreSetting(s, images, {
      iterative: opts.iterative ?? false,
      ...(opts.markers ? { markers: opts.markers } : {}),
    });
    scores.push(score);
    // Strictly greater: the first of equal scores stays chosen; a NaN score never wins.
    if (!chosen || score.aji > chosen.aji || (Number.isNaN(chosen.aji) && !Number.isNaN(score.aji)))
      chosen = score;
    await opts.onSetting?.(score, i, settings.length);
  }
  return { scores, chosen: chosen! };
}
