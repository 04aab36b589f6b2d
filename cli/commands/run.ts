import type { Command } from 'commander';
import { loadSpec } from '../../experiments/index.ts';
import { followRuns, workflowResult } from '../../platform/follow.ts';
import { openSession } from '../../platform/session.ts';
import { submitExperiment } from '../../platform/submit.ts';
import { hasPollers, queuesFor } from '../../platform/temporal.ts';
import { loadConfig, requireDataDir } from '../../src/config.ts';
import * as tracking from '../../src/tracking/index.ts';
import { action } from '../run-action.ts';
import { printRunSummaries } from './runs.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'Run an experiment spec (shipped: paper, ablation-erosion, quick; or a .ts/.json file) through Temporal, tracked in the database and MLflow',
    )
    .argument('<spec>', 'shipped spec name or path to a spec file')
    .option('--set <key=value>', 'override a spec field by dotted path (JSON value), repeatable', collect, [])
    .option('--detach', 'print the experiment id and return at once; the run goes on in the workers')
    .addHelpText(
      'after',
      '\nExamples:\n  nucleiflow run quick\n  nucleiflow run paper --set training.seg.epochs=120 --set seed=2\n  nucleiflow run quick --set \'matrix={"gtErosion":[true,false]}\'\n\nCtrl-C while following detaches; the run goes on (with the embedded database or Temporal server it goes on\nthe next time a worker runs: nucleiflow worker, or nucleiflow resume <run>).',
    )
    .action(
      action(async (specArg: string, opts: { set: string[]; detach?: boolean }) => {
        // Everything that can be wrong with the spec or the data is found before anything starts.
        const loaded = await loadSpec(specArg, opts.set);
        requireDataDir(loadConfig());
        const session = await openSession({
          worker: 'auto',
          trainQueue: loaded.runs[0]!.spec.orchestration.trainQueue,
        });
        let abortResult = () => {};
        try {
          if (!session.config.mlflowTrackingUri) {
            process.stderr.write(
              'nucleiflow: MLFLOW_TRACKING_URI is not set; runs are tracked in the database only\n',
            );
          }
          if (!session.worker) {
            for (const q of new Set(
              loaded.runs.map((r) => queuesFor(r.spec.orchestration.trainQueue).train),
            )) {
              if (!(await hasPollers(session.temporal, q))) {
                process.stderr.write(`nucleiflow: no worker polls ${q} yet; training waits until one does\n`);
              }
            }
          }
          const sub = await submitExperiment(session.storage.db, session.temporal, loaded);
          process.stdout.write(`experiment ${sub.experimentId}\n`);
          for (const id of sub.runIds) process.stdout.write(`run ${id}\n`);
          if (opts.detach && !session.worker) return;
          if (opts.detach) {
            process.stderr.write(
              'nucleiflow: no shared workers (embedded database or Temporal); following instead of detaching\n',
            );
          }
          const result = workflowResult(session.temporal, sub.workflowId);
          abortResult = result.abort;
          const f = await followRuns(session.storage.db, session.temporal, sub.runIds, {
            until: result.promise,
          });
          if (f.detached) {
            process.stderr.write(
              session.worker
                ? `\nnucleiflow: detached; the run pauses until a worker runs again (nucleiflow worker), see: nucleiflow runs --experiment ${sub.experimentId}\n`
                : `\nnucleiflow: detached; the run goes on in the workers, see: nucleiflow runs --experiment ${sub.experimentId}\n`,
            );
            return;
          }
          await result.promise.catch(() => {});
          const runs = await tracking.listRunSummaries(session.storage.db, { ids: sub.runIds });
          printRunSummaries(runs);
          if (runs.length < sub.runIds.length || runs.some((r) => r.status !== 'completed'))
            process.exitCode = 1;
        } finally {
          abortResult();
          await session.close();
        }
      }),
    );
}
