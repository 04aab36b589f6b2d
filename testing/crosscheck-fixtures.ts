// Reader for test/fixtures/crosscheck (written by tools/python/crosscheck_postprocess_metrics.py --generate).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLabels } from '../src/imaging/io.ts';
import type { FloatImage } from '../src/imaging/types.ts';
import type { EvalResult } from '../src/metrics/index.ts';

export interface PairFixture {
  name: string;
  slide: string;
  gt: string;
  pred: string;
  expected: EvalResult;
}

export interface PostprocessFixture {
  name: string;
  slide: string;
  prob: string;
  dist: string;
  gt: string;
  cc: string;
  ws: string;
  small: string;
  filled: string;
  skimage: string;
  sigma: number;
  minDistance: number;
  gaussianSample: { index: number[]; value: number[] };
  skimagePeaks: number[];
  ajiSkimageVsGt: number;
}

export interface CrosscheckManifest {
  pairs: PairFixture[];
  postprocess: PostprocessFixture[];
}

export const CROSSCHECK_DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'crosscheck');

export function readCrosscheckManifest(dir = CROSSCHECK_DIR): CrosscheckManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CrosscheckManifest;
}

/** Decodes the stored inputs exactly as the Python side: prob = fround(v / 255), dist = fround(v / 65535). */
export async function loadPostprocessCase(
  dir: string,
  c: PostprocessFixture,
): Promise<{ prob: FloatImage; dist: FloatImage }> {
  const p = await readLabels(join(dir, c.prob));
  const d = await readLabels(join(dir, c.dist));
  return {
    prob: { width: p.width, height: p.height, data: Float32Array.from(p.data, (v) => v / 255) },
    dist: { width: d.width, height: d.height, data: Float32Array.from(d.data, (v) => v / 65535) },
  };
}
