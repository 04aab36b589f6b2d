import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { loadReportData } from '../../src/report/load.ts';
import { buildReport } from '../../src/report/markdown.ts';
import { writeReportDir } from '../../src/report/write.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'Write a report of a run or experiment from the tracking store: Table 1 (stage 1 alone and two-stage) beside the paper, learning curves as SVG, training facts, per-arm mean ± sd over seeds and paired per-image differences with 95% intervals, per-image CSV',
    )
    .argument('<target>', 'experiment id, or run id (or a unique prefix)')
    .requiredOption('--out <dir>', 'folder to write report.md, the SVG plots and per-image.csv into')
    .action(
      action(async (target: string, opts: { out: string }) => {
        const storage = await openDb();
        try {
          const data = await loadReportData(storage.db, target);
          const files = buildReport(data, `nucleiflow report ${target} --out ${opts.out}`);
          await writeReportDir(opts.out, files);
          process.stdout.write(`wrote ${files.length} files to ${opts.out} (report.md)\n`);
        } finally {
          await storage.close();
        }
      }),
    );
}
