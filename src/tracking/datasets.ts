/**
 * A run's training and test sets as MLflow dataset inputs: a digest of each set's content (every
 * image and label file's sha256, in the same line format as the run's data hash), where it lives,
 * and a small profile (images per organ and subset, the full sha256). MLflow shows them in its
 * Dataset column; two runs on the same images get the same digest.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { hashFile } from './index.ts';
import type { MlflowDatasetInput } from './mlflow-client.ts';

/** The input tag MLflow reads a dataset's role from (mlflow/utils/mlflow_tags.py MLFLOW_DATASET_CONTEXT). */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

/** The fields of a slide reference this module reads (activities/types.ts SlideRef has them). */
export interface DatasetSlide {
  readonly id: string;
  readonly organ: string;
  readonly subset: string;
  readonly image: string;
  readonly labels: string;
}

/** sha256 over `<subset>:<id>:<image sha256>:<labels sha256>` lines, one per slide, in order. */
export async function slideSetSha256(slides: readonly DatasetSlide[]): Promise<string> {
  const h = createHash('sha256');
  for (const s of slides) {
    h.update(
      `${s.subset}:${s.id}:${(await hashFile(s.image)).sha256}:${(await hashFile(s.labels)).sha256}\n`,
    );
  }
  return h.digest('hex');
}

const count = (xs: readonly string[]) =>
  Object.fromEntries([...new Set(xs)].sort().map((x) => [x, xs.filter((y) => y === x).length]));

/** MLflow keeps digests of at most 36 characters: the first 32 hex digits (128 bits) of the sha256. */
export const DIGEST_LENGTH = 32;

async function input(
  name: string,
  context: 'training' | 'testing',
  dataDir: string,
  slides: readonly DatasetSlide[],
): Promise<MlflowDatasetInput> {
  const sha256 = await slideSetSha256(slides);
  return {
    dataset: {
      name,
      digest: sha256.slice(0, DIGEST_LENGTH),
      source_type: 'local',
      source: JSON.stringify({ uri: resolve(dataDir) }),
      profile: JSON.stringify({
        images: slides.length,
        organs: count(slides.map((s) => s.organ)),
        subsets: count(slides.map((s) => s.subset)),
        sha256,
      }),
    },
    tags: [{ key: DATASET_CONTEXT_TAG, value: context }],
  };
}

/** The training set (`<base>-train`, context training) and the test set (`<base>-test`, context testing). */
export async function splitDatasetInputs(
  base: string,
  dataDir: string,
  split: { readonly train: readonly DatasetSlide[]; readonly test: readonly DatasetSlide[] },
): Promise<MlflowDatasetInput[]> {
  return [
    await input(`${base}-train`, 'training', dataDir, split.train),
    await input(`${base}-test`, 'testing', dataDir, split.test),
  ];
}
