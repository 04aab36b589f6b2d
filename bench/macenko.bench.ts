// Macenko stain normalisation on a 1000x1000 MoNuSeg image: ours (src/stain/macenko.ts) against the NumPy reference (tools/python/macenko_ref.py), timed in the same run.
import { join } from 'node:path';
import { loadConfig, requireDataDir } from '../src/config.ts';
import { readRgb } from '../src/imaging/io.ts';
import { fitMacenko, normalizeMacenko } from '../src/stain/macenko.ts';
import { type BenchRow, runPython } from './harness.ts';

const SOURCE = 'TCGA-21-5784-01Z-00-DX1';
const REFERENCE = 'TCGA-A7-A13F-01Z-00-DX1';
const REPEAT = 5;

interface PyTimings {
  fitMs: number;
  normalizeMs: number;
  repeat: number;
  numpy: string;
}

/** Best of REPEAT: fit on the reference, then normalise the source (which fits the source too). */
export async function run(): Promise<BenchRow[]> {
  const dataDir = requireDataDir(loadConfig());
  const srcPath = join(dataDir, 'images', `${SOURCE}.tif`);
  const refPath = join(dataDir, 'images', `${REFERENCE}.tif`);
  const [src, ref] = await Promise.all([readRgb(srcPath), readRgb(refPath)]);

  let fitMs = Number.POSITIVE_INFINITY;
  let normMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const target = fitMacenko(ref);
    const t1 = performance.now();
    normalizeMacenko(src, target);
    const t2 = performance.now();
    fitMs = Math.min(fitMs, t1 - t0);
    normMs = Math.min(normMs, t2 - t1);
  }
  const peakRssMB = process.resourceUsage().maxRSS / 1024;

  const py = runPython<PyTimings>('tools/python/macenko_ref.py', [
    'bench',
    srcPath,
    refPath,
    '--repeat',
    String(REPEAT),
  ]);
  const refName = `NumPy ${py.numpy} (tools/python/macenko_ref.py)`;
  const note = `1000x1000, best of ${REPEAT}, decoding excluded; source ${SOURCE}, reference ${REFERENCE}`;
  return [
    { name: 'macenko fit (reference image)', oursMs: fitMs, refName, refMs: py.fitMs, peakRssMB, note },
    {
      name: 'macenko normalize (fit source + re-render)',
      oursMs: normMs,
      refName,
      refMs: py.normalizeMs,
      peakRssMB,
      note,
    },
    {
      name: 'macenko total',
      oursMs: fitMs + normMs,
      refName,
      refMs: py.fitMs + py.normalizeMs,
      peakRssMB,
      note,
    },
  ];
}
