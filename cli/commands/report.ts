import { type Command, InvalidArgumentError } from 'commander';
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
    .option(
      '--name <name>',
      'write <name>.md, with its plots and per-image.csv in <out>/<name>/ (e.g. --out docs --name results)',
      (v: string) => {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v))
          throw new InvalidArgumentError('a plain file name, e.g. results');
        return v;
      },
    )
    .action(
      action(async (target: string, opts: { out: string; name?: string }) => {
        const storage = await openDb();
        try {
          const data = await loadReportData(storage.db, target);
          const named = opts.name === undefined ? '' : ` --name ${opts.name}`;
          const files = buildReport(data, `nucleiflow report ${target} --out ${opts.out}${named}`, {
            ...(opts.name === undefined ? {} : { name: opts.name }),
          });
          await writeReportDir(opts.out, files);
          process.stdout.write(`wrote ${files.length} files to ${opts.out} (${files[0]!.name})\n`);
        } finally {
          await storage.close();
        }
      }),
    );
}
