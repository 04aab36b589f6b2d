import type { Command } from 'commander';
import { runDoctor } from '../doctor.ts';
import { action } from '../run-action.ts';

export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'Check the TensorFlow backend, the services (database, Temporal, MLflow), undelivered MLflow records and the data folder',
    )
    .option('--json', 'print one JSON object instead of a table')
    .action(
      action(async (opts: { json?: boolean }) => {
        const ok = await runDoctor({ json: Boolean(opts.json) });
        if (!ok) process.exitCode = 1;
      }),
    );
}
