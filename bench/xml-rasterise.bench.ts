// MoNuSeg XML to instance labels on the 13 available XMLs: ours (src/data/annotations.ts, exact MATLAB poly2mask) against ElementTree + skimage.draw.polygon (tools/python/bench_rasterise.py), timed in the same run.
import { join } from 'node:path';
import { loadConfig, requireDataDir } from '../src/config.ts';
import { annotationXmlToLabels, rasteriseAnnotations, readAnnotationXml } from '../src/data/annotations.ts';
import { readManifest } from '../src/data/manifest.ts';
import { readLabels } from '../src/imaging/io.ts';
import { type BenchRow, runPython } from './harness.ts';

const REPEAT = 3;
const SIZE = { width: 1000, height: 1000 };

interface PyResult {
  totalMs: number;
  rasteriseMs: number;
  nInstances: number;
  skimage: string;
  numpy: string;
  foregroundDice: number;
}

/** Best of REPEAT over all 13 files: read + parse + rasterise, and rasterise alone. */
export async function run(): Promise<BenchRow[]> {
  const dataDir = requireDataDir(loadConfig());
  const slides = (await readManifest(dataDir)).filter((s) => s.annotationPath !== undefined);
  const xmls = slides.map((s) => s.annotationPath!);

  let totalMs = Number.POSITIVE_INFINITY;
  let rasterMs = Number.POSITIVE_INFINITY;
  let nInstances = 0;
  for (let r = 0; r < REPEAT; r++) {
    let all = 0;
    let ras = 0;
    nInstances = 0;
    for (const path of xmls) {
      const t0 = performance.now();
      const ann = await readAnnotationXml(path);
      const t1 = performance.now();
      nInstances += rasteriseAnnotations(ann, SIZE, path).nInstances;
      const t2 = performance.now();
      all += t2 - t0;
      ras += t2 - t1;
    }
    totalMs = Math.min(totalMs, all);
    rasterMs = Math.min(rasterMs, ras);
  }
  // Untimed: check the claim in the note, pixels differing from the organisers' labels/.
  let differ = 0;
  for (const s of slides) {
    const [ours, gt] = await Promise.all([
      annotationXmlToLabels(s.annotationPath!, SIZE),
      readLabels(s.labelPath!),
    ]);
    for (let i = 0; i < gt.data.length; i++) if (ours.labels.data[i] !== gt.data[i]) differ++;
  }
  const peakRssMB = process.resourceUsage().maxRSS / 1024;

  const py = runPython<PyResult>('tools/python/bench_rasterise.py', [
    ...xmls,
    '--size',
    `${SIZE.width}x${SIZE.height}`,
    '--repeat',
    String(REPEAT),
    '--labels-dir',
    join(dataDir, 'labels'),
  ]);
  const refName = `ElementTree + skimage ${py.skimage} draw.polygon (tools/python/bench_rasterise.py)`;
  const note =
    `${xmls.length} XMLs, ${SIZE.width}x${SIZE.height}, best of ${REPEAT}; ours ${nInstances} nuclei, ` +
    `${differ} px differ from labels/; reference ${py.nInstances} nuclei, foreground Dice vs labels/ ` +
    `${py.foregroundDice.toFixed(4)} (0-based pixel-centre rule, not poly2mask)`;
  return [
    {
      name: 'xml to labels (read + parse + rasterise)',
      oursMs: totalMs,
      refName,
      refMs: py.totalMs,
      peakRssMB,
      note,
    },
    {
      name: 'xml to labels (rasterise only)',
      oursMs: rasterMs,
      refName,
      refMs: py.rasteriseMs,
      peakRssMB,
      note,
    },
  ];
}
