// TypeScript side of tools/python/crosscheck_postprocess_metrics.py --check: runs our metrics and post-processing on the fixtures.
// Usage: node --import tsx scripts/crosscheck-dump.ts <fixtures dir> <out dir>
// Writes <out>/results.json (metrics per pair; sigma, minDistance, peaks per case) and, per case,
// raw little-endian arrays <case>-<what>.bin (int32 maps, float32 Gaussian) for the Python side.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distanceTargets } from '../src/groundtruth/distance-targets.ts';
import { readLabels } from '../src/imaging/io.ts';
import { evaluate } from '../src/metrics/index.ts';
import { fillHolesPerInstance } from '../src/postprocess/fill-holes.ts';
import { gaussianBlur } from '../src/postprocess/gaussian.ts';
import { peakLocalMax } from '../src/postprocess/peaks.ts';
import { postprocess } from '../src/postprocess/pipeline.ts';
import { loadPostprocessCase, readCrosscheckManifest } from '../testing/crosscheck-fixtures.ts';

const [fixDir, outDir] = process.argv.slice(2);
if (!fixDir || !outDir) {
  process.stderr.write('usage: crosscheck-dump.ts <fixtures dir> <out dir>\n');
  process.exit(2);
}
const manifest = readCrosscheckManifest(fixDir);
const results: { pairs: Record<string, unknown>; postprocess: Record<string, unknown> } = {
  pairs: {},
  postprocess: {},
};
for (const pair of manifest.pairs) {
  const gt = await readLabels(join(fixDir, pair.gt));
  const pred = await readLabels(join(fixDir, pair.pred));
  results.pairs[pair.name] = evaluate(gt, pred);
}
const dump = (name: string, arr: Int32Array | Float32Array) =>
  writeFileSync(join(outDir, `${name}.bin`), new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
for (const c of manifest.postprocess) {
  const { prob, dist } = await loadPostprocessCase(fixDir, c);
  const r = postprocess({ foreground: prob, distance: dist, keepIntermediates: true });
  const im = r.intermediates!;
  const full = gaussianBlur(dist, r.sigma);
  const peaks = peakLocalMax(full, {
    minDistance: r.minDistance,
    labels: im.components,
    excludeBorder: false,
  });
  results.postprocess[c.name] = {
    sigma: r.sigma,
    minDistance: r.minDistance,
    peaks: Array.from(peaks),
    nMarkers: r.nMarkers,
  };
  dump(`${c.name}-cc`, im.components.data);
  dump(`${c.name}-gaussian`, full.data);
  dump(`${c.name}-markers`, r.markers.data);
  dump(`${c.name}-ws`, im.basins.data);
  dump(`${c.name}-small`, im.afterRemoveSmall.data);
  dump(`${c.name}-filled`, fillHolesPerInstance(im.afterRemoveSmall).data);
  dump(`${c.name}-labels`, r.labels.data);
  // The stage-2 target (exact EDT per nucleus, src/groundtruth) on the case's real GT.
  dump(`${c.name}-edt`, distanceTargets(await readLabels(join(fixDir, c.gt))).data);
}
writeFileSync(join(outDir, 'results.json'), JSON.stringify(results));
