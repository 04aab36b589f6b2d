import type { Command } from 'commander';
import { followRuns, workflowResult } from '../../platform/follow.ts';
import { openSession } from '../../platform/session.ts';
import { resolveRun, resumeRun } from '../../platform/submit.ts';
import * as tracking from '../../src/tracking/index.ts';
import { action } from '../run-action.ts';
import { printRunSummaries } from './runs.ts';

export function register(program: Command): void {
  program
    .command('resume')
    .description(
      'Continue a failed or cancelled run from its last checkpoints (finished stages are not redone)',
    )
    .argument('<run>', 'run id (or a unique prefix)')
    .option('--detach', 'return at once; the run goes on in the workers')
    .action(
      action(async (id: string, opts: { detach?: boolean }) => {
        const session = await openSession({ worker: 'auto' });
        let abortResult = () => {};
        try {
          const { db } = session.storage;
          const run = await resolveRun(db, id);
          const workflowId = await resumeRun(db, session.temporal, run);
          process.stdout.write(`resumed ${run.id} (workflow ${workflowId})\n`);
          if (opts.detach && !session.worker) return;
          const result = workflowResult(session.temporal, workflowId);
          abortResult = result.abort;
          const f = await followRuns(db, session.temporal, [run.id], { until: result.promise });
          if (f.detached) return;
          await result.promise.catch(() => {});
          const [after] = await tracking.listRunSummaries(db, { ids: [run.id] });
          if (after) printRunSummaries([after]);
          if (after?.status !== 'completed') process.exitCode = 1;
        } finally {
          abortResult();
          await session.close();
        }
      }),
    );
}
