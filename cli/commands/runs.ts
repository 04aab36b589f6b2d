import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import * as tracking from '../../src/tracking/index.ts';
import { textTable } from '../../src/tracking/report.ts';
import { positiveInt } from '../options.ts';
import { action } from '../run-action.ts';

const armText = (arm: unknown) =>
  Object.entries(arm as Record<string, unknown>)
    .map(([k, v]) => `${k.split('.').at(-1)}=${JSON.stringify(v)}`)
    .join(',');

/** One line per run: id, status, arm, mean AJI / Dice / F1 over the test images, duration. */
export function printRunSummaries(runs: readonly tracking.RunSummary[]): void {
  const pct = (v: number | null) => (v === null ? '' : (100 * v).toFixed(2));
  const body = runs.map((r) => [
    r.id,
    r.status,
    armText(r.arm),
    pct(r.ajiAll),
    pct(r.dice),
    pct(r.f1),
    r.finishedAt && r.durationS !== null ? `${r.durationS.toFixed(0)}s` : '',
  ]);
  process.stdout.write(`${textTable(['Run', 'Status', 'Arm', 'AJI', 'Dice', 'F1', 'Time'], body)}\n`);
}

export function register(program: Command): void {
  program
    .command('runs')
    .description('List tracked runs, newest first, with their status and mean test scores')
    .option('--experiment <id>', 'only the runs of this experiment')
    .option('--limit <n>', 'at most this many runs', positiveInt, 50)
    .option('--json', 'print JSON (one array of runs with their mean scores)')
    .action(
      action(async (opts: { experiment?: string; limit: number; json?: boolean }) => {
        const storage = await openDb();
        try {
          const runs = await tracking.listRunSummaries(storage.db, {
            experiment: opts.experiment,
            limit: opts.limit,
          });
          if (opts.json) {
            const rows = runs.map((r) => ({
              id: r.id,
              experimentId: r.experimentId,
              status: r.status,
              arm: r.arm,
              configHash: r.configHash,
              seed: r.seed,
              codeCommit: r.codeCommit,
              dataHash: r.dataHash,
              mlflowRunId: r.mlflowRunId,
              error: r.error,
              createdAt: r.createdAt,
              startedAt: r.startedAt,
              finishedAt: r.finishedAt,
              means:
                r.nImages === 0
                  ? null
                  : { dice: r.dice, f1: r.f1, aji: r.ajiAll, ajiPlus: r.ajiPlus, pq: r.pq },
            }));
            process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
            return;
          }
          if (runs.length === 0) {
            process.stdout.write('no runs yet (start one: nucleiflow run quick)\n');
            return;
          }
          printRunSummaries(runs);
        } finally {
          await storage.close();
        }
      }),
    );
}
