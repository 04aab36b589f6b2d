// Stage-1 loss of segmentation checkpoints on one fixed yardstick, so runs with different crop sizes compare.
//
// A run's own validation loss is measured on centre crops of its training crop size (and of four
// slides), so a 256^2 run and a 512^2 run report different quantities. This measures every
// checkpoint given with the stage-1 loss (0.5 BCE + Dice, inference mode) on the 512x512 centre
// crops of all 16 Kumar training slides, stain-normalised to the paper's reference, with the
// paper's ground-truth modification. A model folder (model.json) is measured with its float16
// stage-1 weights. Training slides only: the test split plays no part.
// Usage: node --import tsx scripts/stage1-loss.ts <run-dir>/seg | <model-dir> [...]

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { UserError } from '../src/errors.ts';
import { readRgb } from '../src/imaging/io.ts';
import { requireNativeBackend } from '../src/model/backend.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { TrainingSet } from '../src/model/dataset.ts';
import { segLoss } from '../src/model/losses.ts';
import { loadModel } from '../src/model/model-dir.ts';
import { validate } from '../src/model/train.ts';
import { unetFromValues } from '../src/model/unet.ts';
import { fitMacenko } from '../src/stain/macenko.ts';
import { selectReferenceImage } from '../src/stain/select-reference.ts';

const CROP = 512;
const dirs = process.argv.slice(2);
if (dirs.length === 0) throw new UserError('usage: scripts/stage1-loss.ts <run-dir>/seg | <model-dir> [...]');

const tf = requireNativeBackend(false);
const config = loadConfig();
const split = await kumarSplit(requireDataDir(config));
const slides = split.train.map((s) => ({ id: s.id, image: s.imagePath, labels: s.labelPath! }));
const { chosen } = await selectReferenceImage(
  slides.map((s) => ({ id: s.id, imagePath: s.image, labelPath: s.labels })),
);
const reference = slides.find((s) => s.id === chosen.id)!;
const data = await TrainingSet.load({
  slides,
  stainTarget: fitMacenko(await readRgb(reference.image)),
  cacheDir: config.cacheDir,
  hed: null,
  flipRotate: false,
  groundTruth: {},
  validationSlides: slides,
});
const batches = data.validation('seg', CROP);

process.stdout.write(
  `| checkpoint | epochs | steps | wall min | machine min | stage-1 loss, ${CROP}^2 centre crops of ${slides.length} training slides |\n|---|---|---|---|---|---|\n`,
);
/** Stage-1 weights and the table's run columns, from a checkpoint or a model folder. */
async function stage1(dir: string): Promise<{ weights: readonly Float32Array[]; run: string }> {
  if (existsSync(join(dir, 'model.json'))) {
    return { weights: (await loadModel(dir)).seg, run: 'model folder (float16) | - | - | -' };
  }
  const ck = await loadCheckpoint(dir);
  if (!ck) throw new UserError(`${dir}: no checkpoint`);
  if (ck.header.stage !== 'seg') throw new UserError(`${dir}: a ${ck.header.stage} checkpoint, not seg`);
  const h = ck.header;
  return {
    weights: ck.weights,
    run: `${h.epoch} | ${h.adamSteps} | ${(h.wallSeconds / 60).toFixed(1)} | ${(h.cpuSeconds / 60).toFixed(1)}`,
  };
}

for (const dir of dirs) {
  const { weights, run } = await stage1(dir);
  const net = unetFromValues(tf, 'sigmoid', weights);
  const loss = (await validate(tf, net, batches, (y, p) => segLoss(tf, y, p)))!;
  net.dispose();
  process.stdout.write(`| ${dir} | ${run} | ${loss.toFixed(4)} |\n`);
}
