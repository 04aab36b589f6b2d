import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { type LoadedSpec, loadSpec, SHIPPED_SPECS } from '../../experiments/index.ts';
import { launchExperiment } from '../../platform/launch.ts';
import type { ChosenModel } from '../choose-model.ts';
import { action } from '../run-action.ts';
import { printRunSummaries } from './runs.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The part of a registry model card (card.json, written by `nucleiflow models export`) that the closing note of `run quick` reads. */
const aji = z.object({ aji: z.number() });
const cardScores = z.object({
  split: z.string().optional(),
  scores: z.object({ all: aji, seen: aji.nullish(), unseen: aji.nullish() }),
});

/**
 * The closing note of `run quick`: a smoke run, what the default model scores (from its card), and
 * the command that reproduces it. The default model is the one `segment` would use (chooseModel):
 * the registry's `default` alias where the store has one, else the shipped folder.
 */
export async function quickNote(spec: LoadedSpec['spec'], model?: ChosenModel): Promise<string> {
  // Imported here only, so `run` does not load the model code up front.
  const chosen = model ?? (await (await import('../choose-model.ts')).chooseModel(undefined));
  const budget = (s: (typeof spec.training)['seg']) =>
    s.epochs !== undefined
      ? `${s.epochs}-epoch`
      : s.steps !== undefined
        ? `${s.steps}-step`
        : `${s.minutes}-minute`;
  const lines = [
    `\n${spec.name} is a ${budget(spec.training.seg)} smoke run (${spec.dataset.maxTrainImages ?? 16} training images, ${spec.training.seg.inputSize}x${spec.training.seg.inputSize} crops): its scores show that the pipeline works, not what the method can do.`,
  ];
  const name = chosen.registry ? `${chosen.registry.name}@${chosen.registry.version}` : chosen.dir;
  const source = chosen.registry ? `the registry card of ${name}` : join(chosen.dir, 'card.json');
  const card = chosen.registry
    ? chosen.card
    : await readFile(join(chosen.dir, 'card.json'), 'utf8')
        .then((t) => JSON.parse(t) as unknown)
        .catch(() => undefined);
  const parsed = cardScores.safeParse(card);
  const pct = (v: number) => (100 * v).toFixed(2);
  if (parsed.success && (parsed.data.split ?? 'kumar') === 'kumar') {
    const e = parsed.data.scores;
    const parts = [
      e.seen && `${pct(e.seen.aji)} seen organs`,
      e.unseen && `${pct(e.unseen.aji)} unseen`,
    ].filter(Boolean);
    lines.push(
      `The default model (${name}) scores AJI ${pct(e.all.aji)} on the Kumar test images${parts.length ? ` (${parts.join(', ')})` : ''}.`,
    );
  } else {
    lines.push(`The default model (${name}): no Kumar test scores in ${source}.`);
  }
  lines.push('Reproduce it with: nucleiflow run cpu-60min-c256');
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('run')
    .description(
      `Run an experiment spec (shipped: ${SHIPPED_SPECS.join(', ')}; or a .ts/.json file) through Temporal, tracked in the database and MLflow`,
    )
    .argument('<spec>', 'shipped spec name or path to a spec file')
    .option(
      '--set <key=value>',
      'override a spec field by dotted path (JSON value; null removes the field), repeatable',
      collect,
      [],
    )
    .option('--detach', 'print the experiment id and return at once; the run goes on in the workers')
    .addHelpText(
      'after',
      '\nExamples:\n  nucleiflow run quick\n  nucleiflow run cpu-60min-c256          # the shipped model\'s recipe\n  nucleiflow run paper --set training.seg.epochs=120 --set seed=2\n  nucleiflow run quick --set training.seg.epochs=null --set training.seg.steps=10 --set \'training.seg.lrSchedule={"factor":0.4,"drops":1}\'\n  nucleiflow run quick --set \'matrix={"gtErosion":[true,false]}\'\n\nCtrl-C while following detaches; the run goes on (with the embedded database or Temporal server it goes on\nthe next time a worker runs: nucleiflow worker, or nucleiflow resume <run>).',
    )
    .action(
      action(async (specArg: string, opts: { set: string[]; detach?: boolean }) => {
        const loaded = await loadSpec(specArg, opts.set);
        await launchExperiment(loaded, {
          detach: opts.detach,
          finished: async (runs) => {
            printRunSummaries(runs);
            if (loaded.spec.name === 'quick') process.stdout.write(await quickNote(loaded.spec));
          },
        });
      }),
    );
}
