import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { meanOf } from '../../src/metrics/subsets.ts';
import type { Db } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { SCORE_KEYS, textTable } from '../../src/tracking/report.ts';
import { action } from '../run-action.ts';

const armText = (arm: unknown) =>
  Object.entries(arm as Record<string, unknown>)
    .map(([k, v]) => `${k.split('.').at(-1)}=${JSON.stringify(v)}`)
    .join(',');

const seconds = (r: tracking.RunRow) =>
  r.startedAt && r.finishedAt
    ? `${((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(0)}s`
    : '';

/** One line per run: id, status, arm, mean AJI / Dice / F1 over the test images, duration. */
export async function printRunSummaries(db: Db, runs: readonly tracking.RunRow[]): Promise<void> {
  const body: string[][] = [];
  for (const r of runs) {
    const m = meanOf(await tracking.getImageResults(db, r.id), SCORE_KEYS);
    body.push([
      r.id,
      r.status,
      armText(r.arm),
      m ? (100 * m.aji).toFixed(2) : '',
      m ? (100 * m.dice).toFixed(2) : '',
      m ? (100 * m.f1).toFixed(2) : '',
      seconds(r),
    ]);
  }
  process.stdout.write(`${textTable(['Run', 'Status', 'Arm', 'AJI', 'Dice', 'F1', 'Time'], body)}\n`);
}

export function register(program: Command): void {
  program
    .command('runs')
    .description('List tracked runs, newest first, with their status and mean test scores')
    .option('--experiment <id>', 'only the runs of this experiment')
    .option('--limit <n>', 'at most this many runs', '50')
    .option('--json', 'print JSON (one array of runs with their mean scores)')
    .action(
      action(async (opts: { experiment?: string; limit: string; json?: boolean }) => {
        const storage = await openDb();
        try {
          const runs = await tracking.listRuns(storage.db, {
            ...(opts.experiment ? { experimentId: opts.experiment } : {}),
            limit: Math.max(1, Number.parseInt(opts.limit, 10) || 50),
          });
          if (opts.json) {
            const rows = [];
            for (const r of runs) {
              rows.push({
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
                means: meanOf(await tracking.getImageResults(storage.db, r.id), SCORE_KEYS),
              });
            }
            process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
            return;
          }
          if (runs.length === 0) {
            process.stdout.write('no runs yet (start one: nucleiflow run quick)\n');
            return;
          }
          await printRunSummaries(storage.db, runs);
        } finally {
          await storage.close();
        }
      }),
    );
}
