import type { Command } from 'commander';
import { openSession } from '../../platform/session.ts';
import { cancelRun, resolveRun } from '../../platform/submit.ts';
import { UserError } from '../../src/errors.ts';
import * as tracking from '../../src/tracking/index.ts';
import { nonNegativeNumber } from '../options.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('cancel')
    .description('Cancel a running run; its checkpoints stay, so `nucleiflow resume` can continue it')
    .argument('<run>', 'run id (or a unique prefix)')
    .option(
      '--wait <seconds>',
      'wait this long for the run to record the cancellation',
      nonNegativeNumber,
      60,
    )
    .action(
      action(async (id: string, opts: { wait: number }) => {
        const session = await openSession({ worker: 'auto' });
        try {
          const { db } = session.storage;
          const run = await resolveRun(db, id);
          await cancelRun(session.temporal, run);
          process.stdout.write(`cancellation requested for ${run.id}\n`);
          const until = Date.now() + 1000 * opts.wait;
          while (Date.now() < until) {
            const r = await tracking.getRun(db, run.id);
            if (r && tracking.TERMINAL.includes(r.status as tracking.RunStatus)) {
              process.stdout.write(`${run.id}: ${r.status}\n`);
              return;
            }
            await new Promise((res) => setTimeout(res, 500));
          }
          if (opts.wait > 0)
            throw new UserError(`${run.id}: no worker recorded the cancellation yet; it will when one runs`);
        } finally {
          await session.close();
        }
      }),
    );
}
