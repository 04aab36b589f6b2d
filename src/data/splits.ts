/**
 * The data splits a run can train and score on, from the Kumar et al. (IEEE TMI 2017) split:
 * - `kumar`: the paper's 16 training images; test on the 8 same-organ and 6 other-organ images.
 * - `kumar-val`: for choosing variants without looking at the test images: the last training image
 *   of each organ in manifest order (4 images) is held out and scored, the other 12 train. The rule
 *   was fixed before any comparison was run on it, and test/manifest.test.ts pins the four images.
 *   Held-out images are of organs the nets train on, so they are scored as the 'seen' subset.
 * - `all`: all 30 images train (the MoNuSeg 2018 training set) and nothing is scored: a model for
 *   new slides, which has seen every Kumar test image.
 * Every list keeps manifest order.
 */
import type { Slide } from './manifest.ts';

export const SPLIT_NAMES = ['kumar', 'kumar-val', 'all'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export interface SplitSlides {
  readonly train: Slide[];
  /** Scored images of organs in the training set. */
  readonly seen: Slide[];
  /** Scored images of organs not in the training set. */
  readonly unseen: Slide[];
}

/** The held-out images of `kumar-val`: per organ, its last training image in manifest order. */
export function heldOutSlides(train: readonly Slide[]): Slide[] {
  const last = new Map<string, Slide>();
  for (const s of train) last.set(s.organ, s);
  const held = new Set(last.values());
  return train.filter((s) => held.has(s));
}

/** The named split of the manifest's slides (readManifest), each list in manifest order. */
export function splitSlides(manifest: readonly Slide[], name: SplitName): SplitSlides {
  const train = manifest.filter((s) => s.splitKumar === 'train');
  switch (name) {
    case 'kumar':
      return {
        train,
        seen: manifest.filter((s) => s.splitKumar === 'test_same_organ'),
        unseen: manifest.filter((s) => s.splitKumar === 'test_diff_organ'),
      };
    case 'kumar-val': {
      const val = new Set(heldOutSlides(train));
      return { train: train.filter((s) => !val.has(s)), seen: [...val], unseen: [] };
    }
    case 'all':
      return { train: [...manifest], seen: [], unseen: [] };
  }
}

/** What a split's scored images are, for reports: only `kumar` scores the paper's test images. */
export const SPLIT_SCORED: Record<SplitName, string> = {
  kumar: 'the Kumar test split (8 same-organ and 6 other-organ images)',
  'kumar-val':
    'the kumar-val validation split (4 training images held out, one per organ; not the test images)',
  all: 'nothing: the model trained on all 30 images',
};

/** The split a recorded run spec names; specs from before splits were named are `kumar`. */
export function splitOfSpec(spec: unknown): SplitName {
  const s = (spec as { dataset?: { split?: unknown } } | null)?.dataset?.split;
  return (SPLIT_NAMES as readonly unknown[]).includes(s) ? (s as SplitName) : 'kumar';
}
