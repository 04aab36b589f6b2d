// Chooses the stage-1 probability threshold of a model on its own TRAINING images (never the test split) and stores it in model.json.
//
// Why: stage 1 learns eroded targets (touching borders removed, 1 px erosion), so the 0.5 level set
// of its probability lies inside the true nucleus outline; a lower threshold restores the outline.
// Usage: node --import tsx scripts/tune-postprocess.ts [--model models/cpu-60min-s1]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { evaluate } from '../src/metrics/index.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { postprocess } from '../src/postprocess/pipeline.ts';

const { values: args } = parseArgs({
  options: { model: { type: 'string', default: 'models/cpu-60min-s1' } },
});
const THRESHOLDS = [0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05];
const modelDir = resolve(REPO_ROOT, args.model!);
const split = await kumarSplit(requireDataDir(loadConfig()));
const seg = await loadSegmenter(modelDir);
const sums = new Map<number, number>(THRESHOLDS.map((t) => [t, 0]));
for (const s of split.train) {
  const r = await seg.segment(await readRgb(s.imagePath), s.imagePath, { postprocess: { threshold: 0.5 } });
  const gt = await readLabels(s.labelPath!);
  for (const t of THRESHOLDS) {
    const labels = postprocess({ foreground: r.foreground, distance: r.distance, threshold: t }).labels;
    sums.set(t, sums.get(t)! + evaluate(gt, labels).aji);
  }
  process.stderr.write(`${s.id} done\n`);
}
seg.dispose();
const means = THRESHOLDS.map((t) => ({ threshold: t, aji: sums.get(t)! / split.train.length }));
const best = means.reduce((a, b) => (b.aji > a.aji ? b : a));
const file = join(modelDir, 'model.json');
const manifest = JSON.parse(readFileSync(file, 'utf8'));
manifest.postprocess = {
  threshold: best.threshold,
  chosenOn: `mean AJI on the ${split.train.length} Kumar training images: ${means.map((m) => `${m.threshold}: ${m.aji.toFixed(4)}`).join(', ')}`,
};
await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
process.stdout.write(`${JSON.stringify({ best, means })}\n`);
