import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';
import { exportExperiment } from '../../src/tracking/transfer.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description(
      "Write an experiment's tracking records (runs, params, metrics, per-image and tuning results, artifact hashes) as one JSON file, for `nucleiflow import` into another store",
    )
    .argument('<experiment>', 'experiment id')
    .requiredOption('--out <file>', 'the JSON file to write (replaced whole, never half-written)')
    .action(
      action(async (id: string, opts: { out: string }) => {
        const storage = await openDb();
        try {
          const doc = await exportExperiment(storage.db, id);
          await writeFileAtomic(opts.out, `${JSON.stringify(doc, null, 1)}\n`);
          const st = doc.runs.map((b) => `${String(b.run.id).slice(id.length + 1)} ${String(b.run.status)}`);
          process.stdout.write(`exported ${id} (${doc.runs.length} runs: ${st.join(', ')}) to ${opts.out}\n`);
        } finally {
          await storage.close();
        }
      }),
    );
}
