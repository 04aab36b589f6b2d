import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { listSlideSegmentations } from '../../src/tracking/queries.ts';
import { textTable } from '../../src/tracking/report.ts';
import { positiveInt } from '../options.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('slides')
    .description('List whole-slide segmentations in the tracking store, newest first')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .option('--json', 'print JSON (one array of records)')
    .action(
      action(async (opts: { limit: number; json?: boolean }) => {
        const storage = await openDb();
        try {
          const rows = await listSlideSegmentations(storage.db, opts.limit);
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
            return;
          }
          const body = rows.map((r) => [
            r.slide.split('/').pop() ?? r.slide,
            r.status,
            r.model,
            r.regions === null ? '' : String(r.regions),
            r.nuclei === null ? '' : String(r.nuclei),
            r.tissueAreaMm2 === null ? '' : r.tissueAreaMm2.toFixed(2),
            typeof (r.timings as Record<string, number>).wallSeconds === 'number'
              ? `${(r.timings as Record<string, number>).wallSeconds!.toFixed(0)}s`
              : '',
            (r.identity ?? '').slice(0, 12),
            r.error ?? r.summary ?? '',
          ]);
          process.stdout.write(
            `${textTable(['Slide', 'Status', 'Model', 'Regions', 'Nuclei', 'Tissue mm^2', 'Time', 'Identity', 'Summary / error'], body)}\n`,
          );
        } finally {
          await storage.close();
        }
      }),
    );
}
