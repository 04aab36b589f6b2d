// The shipped model's recipe is the `cpu-60min-c256` spec, and `nucleiflow train` with no flags runs it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { groundTruthOptions } from '../activities/pipeline.ts';
import { quickNote } from '../cli/commands/run.ts';
import { DEFAULT_TRAIN_SPEC, register, type TrainFlags, trainSets } from '../cli/commands/train.ts';
import { type LoadedSpec, loadSpec } from '../experiments/index.ts';
import { HED_PRESETS } from '../src/augment/hed.ts';
import { DEFAULT_MODIFICATION } from '../src/groundtruth/modify.ts';
import { stageSeed } from '../src/model/batch.ts';
import type { EpochMetrics } from '../src/model/checkpoint.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';

/** What `nucleiflow train <args>` would submit, resolved by the real command's parser; nothing runs. */
async function resolveTrain(args: readonly string[]): Promise<LoadedSpec> {
  const program = new Command().exitOverride();
  register(program);
  let flags: TrainFlags | undefined;
  program.commands[0]!.action((f: TrainFlags) => {
    flags = f;
  });
  await program.parseAsync(['train', ...args], { from: 'user' });
  return loadSpec(flags!.spec, trainSets(flags!));
}

interface Recorded {
  seed: number;
  schedules: Record<
    'seg' | 'dist',
    {
      batchSize: number;
      inputSize: number;
      stepsPerEpoch: number;
      lr: number;
      lrSchedule: { factor: number };
      dropout?: boolean;
    }
  >;
  distInit: string;
  referenceSelection: string;
  referenceId: string | null;
  hed: { scale: number; bias: number } | null;
  flipRotate: boolean;
  groundTruth: Record<string, unknown>;
  trainSlides: string[];
  runs: Record<'seg' | 'dist', { epochs: number; steps: number; history: EpochMetrics[] }>;
}

describe('the shipped recipe as a spec', () => {
  it('cpu-60min-c256 is what the shipped model.json records: every field, the steps run and the lr drop points', async () => {
    const rec = (
      JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'model.json'), 'utf8')) as { training: Recorded }
    ).training;
    const { runs } = await loadSpec('cpu-60min-c256');
    expect(runs).toHaveLength(1);
    const spec = runs[0]!.spec;
    expect(spec.seed).toBe(rec.seed);
    expect(stageSeed(spec.seed, 'seg')).toBe(rec.seed);
    expect(spec.training.distInit).toBe(rec.distInit);
    expect(spec.preprocessing).toEqual({
      stainNormalisation: rec.referenceId !== null,
      referenceSelection: rec.referenceSelection,
    });
    expect(spec.augmentation.flipRotate).toBe(rec.flipRotate);
    expect(spec.augmentation.hed === 'off' ? null : HED_PRESETS[spec.augmentation.hed]).toEqual(rec.hed);
    // modifyGroundTruth merges its options over the defaults; the recorded {} meant the defaults.
    expect({ ...DEFAULT_MODIFICATION, ...groundTruthOptions(spec) }).toEqual({
      ...DEFAULT_MODIFICATION,
      ...rec.groundTruth,
    });
    // All 16 training slides, all 14 test images.
    expect(rec.trainSlides).toHaveLength(16);
    expect(spec.dataset.maxTrainImages).toBeUndefined();
    expect(spec.dataset.maxTestImages).toBeUndefined();
    for (const stage of ['seg', 'dist'] as const) {
      const t = spec.training[stage];
      const r = rec.schedules[stage];
      expect(
        [t.batchSize, t.inputSize, t.stepsPerEpoch, t.lr, t.lrSchedule.factor, t.dropout],
        stage,
      ).toEqual([r.batchSize, r.inputSize, r.stepsPerEpoch, r.lr, r.lrSchedule.factor, r.dropout]);
      // The budget is the steps that ran; the lr drops where the recorded run's lr changed.
      const h = rec.runs[stage].history;
      expect(t.steps, stage).toBe(rec.runs[stage].steps);
      const drops = h.flatMap((e, i) => (i > 0 && e.lr !== h[i - 1]!.lr ? [h[i - 1]!.steps] : []));
      expect(t.lrSchedule.atSteps, stage).toEqual(drops);
    }
    expect([spec.training.seg.steps, spec.training.dist.steps]).toEqual([5888, 1664]);
  });

  it('nucleiflow train with no flags submits cpu-60min-c256; --seed and --set override it', async () => {
    const plain = await resolveTrain([]);
    expect(DEFAULT_TRAIN_SPEC).toBe('cpu-60min-c256');
    expect(plain.runs[0]!.configHash).toBe((await loadSpec('cpu-60min-c256')).runs[0]!.configHash);
    const seeded = await resolveTrain(['--seed', '1', '--set', 'gtErosion=false']);
    expect([seeded.runs[0]!.spec.seed, seeded.runs[0]!.spec.groundTruth.erosion]).toEqual([1, false]);
  });
});

describe('the closing note of run quick', () => {
  it('says it is a 3-epoch smoke run, what the default model scores (from its card), and the command that reproduces it', async () => {
    const card = JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'card.json'), 'utf8')) as {
      evaluation: Record<'all' | 'seen' | 'unseen', { aji: number }>;
    };
    const pct = (v: number) => (100 * v).toFixed(2);
    const note = await quickNote((await loadSpec('quick')).spec);
    expect(note).toMatch(/^\nquick is a 3-epoch smoke run \(4 training images, 128x128 crops\)/);
    expect(note).toContain(
      `scores AJI ${pct(card.evaluation.all.aji)} on the Kumar test images (${pct(card.evaluation.seen.aji)} seen organs, ${pct(card.evaluation.unseen.aji)} unseen)`,
    );
    expect(note).toMatch(/\nReproduce it with: nucleiflow run cpu-60min-c256\n$/);
    // The score is the card's: another card, another number; no card, no number.
    const other = mkdtempSync(join(tmpdir(), 'nf-card-'));
    writeFileSync(join(other, 'card.json'), JSON.stringify({ evaluation: { all: { aji: 0.5 } } }));
    expect(await quickNote((await loadSpec('quick')).spec, other)).toContain(
      `The default model (${other}) scores AJI 50.00 on the Kumar test images.`,
    );
    expect(await quickNote((await loadSpec('quick')).spec, join(other, 'none'))).toContain(
      'no test scores in',
    );
    // The epochs come from the spec, not from the text.
    expect(await quickNote((await loadSpec('quick', ['training.seg.epochs=5'])).spec)).toMatch(
      /a 5-epoch smoke run/,
    );
  });
});
