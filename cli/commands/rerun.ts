import type { Command } from 'commander';
import { codeCommit } from '../../activities/index.ts';
import { type LoadedSpec, resolveSpec } from '../../experiments/index.ts';
import { launchExperiment } from '../../platform/launch.ts';
import { openDb } from '../../platform/session.ts';
import { resolveRun } from '../../platform/submit.ts';
import { type Config, loadConfig, requireDataDir } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';
import type { Db } from '../../src/storage/index.ts';
import type * as tracking from '../../src/tracking/index.ts';
import { action } from '../run-action.ts';
import { printRunSummaries } from './runs.ts';

/** Param of the new run naming the run it repeats. */
export const RERUN_OF_PARAM = 'rerun_of';
/** Params of the new run recording what drifted, as `<recorded> -> <now>` (only with --allow-drift). */
export const DRIFT_PARAMS = {
  codeCommit: 'rerun_drift.code_commit',
  dataHash: 'rerun_drift.data_hash',
} as const;

export interface Drift {
  readonly field: keyof typeof DRIFT_PARAMS;
  readonly recorded: string | null;
  readonly now: string;
}

export interface RerunPlan {
  readonly run: tracking.RunRow;
  readonly loaded: LoadedSpec;
  readonly drift: readonly Drift[];
}

/** A commit that cannot be checked out again: uncommitted changes, or no git at all. */
const dirty = (c: string) => c.endsWith('-dirty') || c === 'unknown';

/**
 * What a rerun of `idOrPrefix` would submit, and what differs from when it ran: the code commit
 * (this checkout's; a `-dirty` or `unknown` one on either side cannot be reproduced, so it always
 * counts) and the data hash the split computes now from the recorded spec (no run is started).
 */
export async function planRerun(db: Db, config: Config, idOrPrefix: string): Promise<RerunPlan> {
  const run = await resolveRun(db, idOrPrefix);
  // The recorded spec is validated against today's schema, naming the field that no longer fits.
  const { spec, runs } = resolveSpec(`run ${run.id}: recorded spec`, run.spec);
  const planned = runs[0]!;
  const loaded: LoadedSpec = {
    source: `rerun of ${run.id}`,
    spec,
    // The arm is kept, so the rerun is labelled (and grouped in MLflow) like the run it repeats.
    runs: [{ ...planned, arm: run.arm as Record<string, unknown> }],
  };
  const drift: Drift[] = [];
  const commit = codeCommit();
  if (run.codeCommit === null || run.codeCommit !== commit || dirty(run.codeCommit) || dirty(commit))
    drift.push({ field: 'codeCommit', recorded: run.codeCommit, now: commit });
  // The split is where a run computes its data hash (activities/pipeline.ts); its module loads TensorFlow.
  const { realCompute } = await import('../../activities/pipeline.ts');
  const { dataHash } = await realCompute(config).split(config.dataDir, planned.spec);
  if (run.dataHash !== dataHash) drift.push({ field: 'dataHash', recorded: run.dataHash, now: dataHash });
  return { run, loaded, drift };
}

const NAMES: Record<Drift['field'], string> = { codeCommit: 'code commit', dataHash: 'data hash' };

function describe(d: Drift): string {
  const why =
    d.field === 'codeCommit' && (dirty(d.now) || (d.recorded && dirty(d.recorded)))
      ? ' (uncommitted changes, or no git, cannot be reproduced)'
      : '';
  return `${NAMES[d.field]} ${d.recorded ?? 'not recorded'} -> ${d.now}${why}`;
}

export function register(program: Command): void {
  program
    .command('rerun')
    .description(
      'Submit the recorded spec of a run again, as a new one-run experiment; refuses when the code commit or the data changed since',
    )
    .argument('<run>', 'run id (or a unique prefix)')
    .option(
      '--allow-drift',
      "submit even when the code commit or the data hash differs (recorded in the new run's params)",
    )
    .option('--detach', 'print the new ids and return at once; the run goes on in the workers')
    .addHelpText(
      'after',
      `\nThe new run records ${RERUN_OF_PARAM}=<run> as a param; with --allow-drift also ${DRIFT_PARAMS.codeCommit} and\n${DRIFT_PARAMS.dataHash} as "<recorded> -> <now>" for what differed.`,
    )
    .action(
      action(async (id: string, opts: { allowDrift?: boolean; detach?: boolean }) => {
        const config = loadConfig();
        requireDataDir(config);
        // Checked with the database alone, before Temporal or a worker is started.
        const storage = await openDb(config);
        let plan: RerunPlan;
        try {
          plan = await planRerun(storage.db, config, id);
        } finally {
          await storage.close();
        }
        if (plan.drift.length > 0 && !opts.allowDrift) {
          throw new UserError(
            `run ${plan.run.id} cannot be reproduced: ${plan.drift.map(describe).join('; ')} (--allow-drift reruns it anyway)`,
          );
        }
        for (const d of plan.drift) process.stderr.write(`nucleiflow: rerun despite drift: ${describe(d)}\n`);
        await launchExperiment(plan.loaded, {
          detach: opts.detach,
          // In the transaction that creates the run: no rerun exists without its link.
          params: {
            [RERUN_OF_PARAM]: plan.run.id,
            ...Object.fromEntries(
              plan.drift.map((d) => [DRIFT_PARAMS[d.field], `${d.recorded ?? 'not recorded'} -> ${d.now}`]),
            ),
          },
          finished: (runs) => printRunSummaries(runs),
        });
      }),
    );
}
