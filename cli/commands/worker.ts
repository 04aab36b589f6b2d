import { type Command, Option } from 'commander';
import { openDb } from '../../platform/session.ts';
import { MAIN_QUEUE, openTemporal, queuePrefix, TRAIN_QUEUES } from '../../platform/temporal.ts';
import { assertQueuesServable, startWorkers } from '../../platform/worker.ts';
import { loadConfig, requireDataDir } from '../../src/config.ts';
import { choiceList, positiveInt } from '../options.ts';
import { action } from '../run-action.ts';

const KNOWN = [MAIN_QUEUE, ...TRAIN_QUEUES];

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a worker: workflows and light activities (queue nucleiflow) and/or training (train-cpu; train-gpu is refused, no GPU backend yet)',
    )
    .addOption(
      new Option('--queue <list>', `comma-separated queues to poll (${KNOWN.join(', ')})`)
        .argParser(choiceList(KNOWN))
        .default([MAIN_QUEUE, 'train-cpu'], `${MAIN_QUEUE},train-cpu`),
    )
    .option('--train-slots <n>', 'training activities run at once on this worker', positiveInt, 2)
    .option(
      '--compute-processes <n>',
      'child processes the science runs in (calls share them; each holds its own TensorFlow memory)',
      positiveInt,
      1,
    )
    .addHelpText(
      'after',
      '\nWith TEMPORAL_ADDRESS and DATABASE_URL pointing at shared services, run workers on as many hosts as you like\n(see docs/platform.md). Ctrl-C / SIGTERM stops gracefully: running activities are retried by another worker.\nThe science runs in child processes (--compute-processes); the Temporal SDK logs to $NUCLEIFLOW_HOME/logs/temporal-sdk.log\n(NUCLEIFLOW_TEMPORAL_LOG_STDERR=1 to print it here too).',
    )
    .action(
      action(async (opts: { queue: string[]; trainSlots: number; computeProcesses: number }) => {
        const names = opts.queue;
        assertQueuesServable(names);
        const config = loadConfig();
        requireDataDir(config);
        const storage = await openDb(config);
        const temporal = await openTemporal(config);
        const prefix = queuePrefix();
        try {
          const workers = await startWorkers({
            config,
            storage,
            address: temporal.address,
            namespace: temporal.namespace,
            queues: names.map((q) => `${prefix}${q}`),
            mainQueue: `${prefix}${MAIN_QUEUE}`,
            trainSlots: opts.trainSlots,
            computeProcesses: opts.computeProcesses,
          });
          process.stderr.write(
            `nucleiflow worker: polling ${workers.queues.join(', ')} on ${temporal.address} (${storage.kind} ${storage.location}); SDK log: ${config.temporalLogFile}\n`,
          );
          const stop = () => {
            process.stderr.write('nucleiflow worker: shutting down\n');
            void workers.shutdown();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          await workers.done;
        } finally {
          await temporal.close();
          await storage.close();
        }
      }),
    );
}
