import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { resolveRun } from '../../platform/submit.ts';
import * as tracking from '../../src/tracking/index.ts';
import { table1, textTable } from '../../src/tracking/report.ts';
import { action } from '../run-action.ts';

/**
 * What each net's training ran (runs.trained): the budget, steps, epochs, the steps after which the
 * lr dropped, wall and machine minutes. A minutes budget is replayed by steps with these numbers.
 */
export function trainedText(run: Pick<tracking.RunRow, 'trained'>): string {
  const t = tracking.trainedOf(run);
  const body = (['seg', 'dist'] as const)
    .filter((s) => t[s])
    .map((s) => {
      const r = t[s]!;
      return [
        s,
        `${r.budget.value} ${r.budget.kind}`,
        String(r.steps),
        String(r.epochs),
        r.lrDrops.length ? r.lrDrops.join(', ') : '-',
        (r.wallSeconds / 60).toFixed(1),
        (r.cpuSeconds / 60).toFixed(1),
      ];
    });
  if (body.length === 0) return 'Trained\n(no net has finished training yet)';
  return `Trained\n${textTable(['Net', 'Budget', 'Steps', 'Epochs', 'lr drops after step', 'Wall min', 'Machine min'], body)}`;
}

export function register(program: Command): void {
  program
    .command('show')
    .description('Show one run: provenance, params, per-epoch metrics and Table-1-style per-image results')
    .argument('<run>', 'run id (or a unique prefix)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (id: string, opts: { json?: boolean }) => {
        const storage = await openDb();
        try {
          const { db } = storage;
          const run = await resolveRun(db, id);
          const [params, metrics, results, artifacts, pending, failures] = await Promise.all([
            tracking.getParams(db, run.id),
            tracking.getMetrics(db, run.id),
            tracking.getImageResults(db, run.id),
            tracking.getArtifacts(db, run.id),
            tracking.pendingOutbox(db, run.id),
            tracking.outboxFailures(db, run.id),
          ]);
          const outbox = { pending, failures };
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify({ run, params, metrics, results, artifacts, outbox }, null, 2)}\n`,
            );
            return;
          }
          const w = (s: string) => process.stdout.write(`${s}\n`);
          w(`run         ${run.id}`);
          w(`experiment  ${run.experimentId}`);
          w(`status      ${run.status}${run.error ? ` (${run.error})` : ''}`);
          w(`arm         ${JSON.stringify(run.arm)}`);
          w(`config      ${run.configHash}`);
          w(`seed        ${run.seed}`);
          w(`code        ${run.codeCommit ?? '-'}`);
          w(`data        ${run.dataHash ?? '-'}`);
          w(`worker      ${run.workerHost ?? '-'}`);
          w(`mlflow run  ${run.mlflowRunId ?? '-'}`);
          w(`outbox      ${pending} pending, ${failures.length} failed`);
          w(
            `timings     ${Object.entries(run.timings as Record<string, number>)
              .map(([k, v]) => (k.endsWith('_resumed_from') ? `${k} epoch ${v}` : `${k} ${v.toFixed(1)}s`))
              .join(', ')}`,
          );
          w(`\n${trainedText(run)}`);
          w('\nParams');
          w(
            textTable(
              ['Key', 'Value'],
              Object.entries(params).map(([k, v]) => [k, v]),
            ),
          );
          // Metrics: one line per stage and key, last value and the number of steps recorded.
          const groups = new Map<string, typeof metrics>();
          for (const m of metrics)
            groups.set(`${m.stage}.${m.key}`, [...(groups.get(`${m.stage}.${m.key}`) ?? []), m]);
          w('\nMetrics');
          w(
            textTable(
              ['Metric', 'Steps', 'First', 'Last'],
              [...groups].map(([k, ms]) => [
                k,
                String(ms.length),
                ms[0]!.value.toPrecision(4),
                ms.at(-1)!.value.toPrecision(4),
              ]),
            ),
          );
          if (results.length) {
            const t = table1(results);
            w('\nPer-image results (percent)');
            w(textTable(t.header, t.body));
          }
          if (artifacts.length) {
            w('\nArtifacts');
            w(
              textTable(
                ['Kind', 'Path', 'sha256'],
                artifacts.map((a) => [a.kind, a.path, a.sha256.slice(0, 16)]),
              ),
            );
          }
          if (failures.length) {
            w('\nMLflow records not delivered');
            w(
              textTable(
                ['Kind', 'Attempts', 'Reason'],
                failures.map((f) => [f.kind, String(f.attempts), f.lastError ?? '']),
              ),
            );
          }
        } finally {
          await storage.close();
        }
      }),
    );
}
