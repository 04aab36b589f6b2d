// The shipped model's recipe is the `cpu-60min-c256` spec, and `nucleiflow train` with no flags runs it;
// the shipped folder is that spec's run, exported from the registry (card.json records the run).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { quickNote } from '../cli/commands/run.ts';
import { DEFAULT_TRAIN_SPEC, register, type TrainFlags, trainSets } from '../cli/commands/train.ts';
import { type LoadedSpec, loadSpec } from '../experiments/index.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import type { TrainedStage } from '../src/tracking/queries.ts';
import type { ModelCard } from '../src/tracking/registry.ts';

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

/** The shipped folder's card.json: the registry's card, whose `trained` holds both nets' records. */
type Card = ModelCard & { trained: Record<'seg' | 'dist', TrainedStage> };
const shippedCard = () => JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'card.json'), 'utf8')) as Card;

describe('the shipped recipe as a spec', () => {
  it('cpu-60min-c256 is the spec the shipped model was trained with, and its steps and lr drops are what ran', async () => {
    const card = shippedCard();
    const { runs } = await loadSpec('cpu-60min-c256');
    expect(runs).toHaveLength(1);
    const spec = runs[0]!.spec;
    expect(card.specName).toBe('cpu-60min-c256');
    // The run's recorded spec (through JSON, as the store keeps it) is today's spec field for field.
    expect(card.spec).toEqual(JSON.parse(JSON.stringify(spec)));
    // model.json carries the same spec, so a folder copied without its card still says how it was made.
    const manifest = JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'model.json'), 'utf8')) as {
      training: { spec: unknown };
    };
    expect(manifest.training.spec).toEqual(card.spec);
    // All 16 training slides, all 14 test images.
    expect(spec.dataset.maxTrainImages).toBeUndefined();
    expect(spec.dataset.maxTestImages).toBeUndefined();
    expect(card.scores.nImages).toBe(14);
    for (const stage of ['seg', 'dist'] as const) {
      const t = spec.training[stage];
      const ran = card.trained[stage];
      expect(ran.budget, stage).toEqual({ kind: 'steps', value: t.steps });
      expect(ran.steps, stage).toBe(t.steps);
      expect(ran.lrDrops, stage).toEqual(t.lrSchedule.atSteps);
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
    const card = shippedCard();
    const pct = (v: number) => (100 * v).toFixed(2);
    const note = await quickNote((await loadSpec('quick')).spec, { dir: SHIPPED_MODEL_DIR, registry: null });
    expect(note).toMatch(/^\nquick is a 3-epoch smoke run \(4 training images, 128x128 crops\)/);
    expect(note).toContain(
      `scores AJI ${pct(card.scores.all!.aji)} on the Kumar test images (${pct(card.scores.seen!.aji)} seen organs, ${pct(card.scores.unseen!.aji)} unseen)`,
    );
    expect(note).toMatch(/\nReproduce it with: nucleiflow run cpu-60min-c256\n$/);
    // The score is the card's: another card, another number; no card, no number.
    const other = mkdtempSync(join(tmpdir(), 'nf-card-'));
    writeFileSync(join(other, 'card.json'), JSON.stringify({ scores: { all: { aji: 0.5 } } }));
    const folder = (dir: string) => ({ dir, registry: null });
    expect(await quickNote((await loadSpec('quick')).spec, folder(other))).toContain(
      `The default model (${other}) scores AJI 50.00 on the Kumar test images.`,
    );
    expect(await quickNote((await loadSpec('quick')).spec, folder(join(other, 'none')))).toContain(
      'no Kumar test scores in',
    );
    // A registry default is named by its version and scored from its card; a model that trained on
    // every image (split `all`) or scored another split has no Kumar test score to state.
    const registry = { name: 'nucleiflow-v1', version: 3, runId: 'r' };
    const loadedQuick = (await loadSpec('quick')).spec;
    const at = (card: unknown) => quickNote(loadedQuick, { dir: other, registry, card });
    expect(await at({ scores: { all: { aji: 0.6123 } } })).toContain(
      'The default model (nucleiflow-v1@3) scores AJI 61.23 on the Kumar test images.',
    );
    expect(await at({ split: 'all', scores: { all: { aji: 0.9 } } })).toContain(
      'The default model (nucleiflow-v1@3): no Kumar test scores in the registry card of nucleiflow-v1@3.',
    );
    expect(await at({ split: 'kumar-val', scores: { all: { aji: 0.6 } } })).toContain('no Kumar test scores');
    // The epochs come from the spec, not from the text.
    expect(await quickNote((await loadSpec('quick', ['training.seg.epochs=5'])).spec, folder(other))).toMatch(
      /a 5-epoch smoke run/,
    );
  });
});
