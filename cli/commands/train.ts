import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { loadSpec } from '../../experiments/index.ts';
import { launchExperiment } from '../../platform/launch.ts';
import { UserError } from '../../src/errors.ts';
import * as tracking from '../../src/tracking/index.ts';
import { nonNegativeInt } from '../options.ts';
import { action } from '../run-action.ts';
import { printRunSummaries } from './runs.ts';
import { trainedText } from './show.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The spec `nucleiflow train` runs when none is named: the shipped model's recipe. */
export const DEFAULT_TRAIN_SPEC = 'cpu-60min-c256';

export interface TrainFlags {
  spec: string;
  set: string[];
  seed?: number;
  detach?: boolean;
}

/** The overrides `train` passes to the spec loader: --seed is --set seed=N, given last. */
export function trainSets(f: TrainFlags): string[] {
  return [...f.set, ...(f.seed === undefined ? [] : [`seed=${f.seed}`])];
}

export function register(program: Command): void {
  program
    .command('train')
    .description(
      `Train both U-Nets as one tracked run through Temporal (the spec ${DEFAULT_TRAIN_SPEC}, the shipped model's recipe, unless --spec names another), follow it and print its results; the same as nucleiflow run with a one-run spec`,
    )
    .option('--spec <spec>', 'shipped spec name or a .ts/.json spec file', DEFAULT_TRAIN_SPEC)
    .option(
      '--set <key=value>',
      'override a spec field by dotted path (JSON value; null removes the field), repeatable',
      collect,
      [],
    )
    .option('--seed <n>', 'run seed (the same as --set seed=N)', nonNegativeInt)
    .option('--detach', 'print the run id and return at once; the run goes on in the workers')
    .addHelpText(
      'after',
      `\nExamples:\n  nucleiflow train                                   # = nucleiflow run ${DEFAULT_TRAIN_SPEC}\n  nucleiflow train --seed 1\n  nucleiflow train --set training.seg.steps=2944 --set 'training.seg.lrSchedule={"factor":0.4,"drops":2}'\n  nucleiflow train --set gtErosion=false\n\nThe trained nets are packaged as a model folder under $NUCLEIFLOW_HOME/runs/<run>/model; nucleiflow show <run>\nprints what each net ran (steps, epochs, lr drops, wall and machine time). A run that stops resumes from its\ncheckpoints: nucleiflow resume <run>.`,
    )
    .action(
      action(async (f: TrainFlags) => {
        const loaded = await loadSpec(f.spec, trainSets(f));
        if (loaded.runs.length !== 1) {
          throw new UserError(
            `train: ${loaded.source} expands into ${loaded.runs.length} runs; train runs one (use nucleiflow run ${f.spec} for a matrix)`,
            { exitCode: 2 },
          );
        }
        await launchExperiment(loaded, {
          detach: f.detach,
          finished: async (runs, db) => {
            printRunSummaries(runs);
            for (const r of runs) {
              const run = await tracking.getRun(db, r.id);
              if (run) process.stdout.write(`${trainedText(run)}\n`);
              const card = (await tracking.getArtifacts(db, r.id)).find(
                (a) => a.kind === 'model' && basename(a.path) === 'model.json',
              );
              if (card) process.stdout.write(`model folder ${dirname(card.path)}\n`);
            }
          },
        });
      }),
    );
}
