import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../cli/commands/segment.ts';
import { register, type TrainFlags, type TrainRecipe, trainRecipe } from '../cli/commands/train.ts';
import { runCli } from './helpers/cli.ts';

/** The recipe `nucleiflow train <args>` would train, resolved by the real command's parser; nothing runs. */
async function resolveRecipe(args: readonly string[]): Promise<TrainRecipe> {
  const program = new Command().exitOverride();
  register(program);
  let recipe: TrainRecipe | undefined;
  program.commands[0]!.action((f: TrainFlags) => {
    recipe = trainRecipe(f);
  });
  await program.parseAsync(['train', ...args], { from: 'user' });
  return recipe!;
}

describe('the named schedule of the shipped model', () => {
  it('train --schedule cpu-60min-c256 --seed 2 is the recipe recorded in the shipped model.json', async () => {
    const recorded = (
      JSON.parse(readFileSync(join(DEFAULT_MODEL, 'model.json'), 'utf8')) as {
        training: Record<string, unknown> & { trainSlides: string[]; referenceId: string | null };
      }
    ).training;
    const recipe = await resolveRecipe(['--schedule', 'cpu-60min-c256', '--seed', '2']);
    const { stages, stainNormalisation, maxTrainImages, ...recordedFields } = recipe;
    for (const [k, v] of Object.entries(recordedFields)) expect(v, k).toEqual(recorded[k]);
    expect(stages).toEqual(['seg', 'dist']);
    // Normalised colours: the record names the reference slide; all 16 training slides were used.
    expect(stainNormalisation).toBe(recorded.referenceId !== null);
    expect(maxTrainImages).toBeUndefined();
    expect(recorded.trainSlides).toHaveLength(16);
  });

  it('the overlapping stage wall-clock flags are gone; --seg-minutes is the one spelling', () => {
    const help = runCli(['train', '--help']).stdout;
    expect(help).toMatch(/--seg-minutes <m>/);
    expect(help).not.toMatch(/--max-minutes/);
    // Were the flag still accepted, the budget on an epoch schedule would stop this before training.
    const r = runCli(['train', '--schedule', 'paper', '--seg-minutes', '45', '--max-minutes-seg', '45']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("error: unknown option '--max-minutes-seg'");
  });
});

describe('train flags', () => {
  it('keep their meaning on a named schedule', async () => {
    const r = await resolveRecipe(['--schedule', 'cpu-60min-c256', '--seg-minutes', '30', '--stage', 'seg']);
    expect(r.stages).toEqual(['seg']);
    expect(r.schedules.seg).toMatchObject({ budgetSeconds: 1800, budgetWallSeconds: 1800, inputSize: 256 });
  });
});
