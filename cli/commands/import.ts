import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { UserError } from '../../src/errors.ts';
import { importExperiment, parseExport } from '../../src/tracking/transfer.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('import')
    .description(
      'Read an experiment written by `nucleiflow export` into this tracking store, in one transaction; runs that had not ended become failed, for `nucleiflow resume`',
    )
    .argument('<file>', 'the JSON file')
    .option('--replace', 'replace the stored copy of the experiment when it differs from the file')
    .action(
      action(async (file: string, opts: { replace?: boolean }) => {
        const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new UserError(`cannot read ${file}: ${err.code ?? err.message}`);
        });
        const doc = parseExport(text, file);
        const storage = await openDb();
        try {
          const outcome = await importExperiment(storage.db, doc, { replace: opts.replace === true });
          const id = String(doc.experiment.id);
          const resumable = doc.runs.filter((b) => b.run.status !== 'completed').map((b) => String(b.run.id));
          const what = {
            imported: 'imported',
            replaced: 'replaced',
            unchanged: 'already in the store, unchanged:',
          }[outcome];
          process.stdout.write(`${what} ${id} (${doc.runs.length} runs)\n`);
          for (const r of resumable) process.stdout.write(`not completed: ${r} (nucleiflow resume ${r})\n`);
        } finally {
          await storage.close();
        }
      }),
    );
}
