import type { Command } from 'commander';
import { loadConfig } from '../../src/config.ts';
import { openStorage } from '../../src/storage/index.ts';
import { integer } from '../options.ts';
import { action } from '../run-action.ts';

interface Options {
  host: string;
  port: number;
  token?: string;
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description(
      'Serve the web dashboard over the tracking database: runs, run pages, comparisons, models, slides, image viewer',
    )
    .option('--host <address>', 'address to bind; anything but loopback requires a token', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', integer({ min: 0, max: 65535 }), 4600)
    .option('--token <token>', 'access token required on every request (or NUCLEIFLOW_DASHBOARD_TOKEN)')
    .addHelpText(
      'after',
      '\nEnvironment: DATABASE_URL (else the embedded database under NUCLEIFLOW_HOME), TEMPORAL_UI_URL and\nMLFLOW_TRACKING_URI (links on run pages), NUCLEIFLOW_DASHBOARD_TOKEN.',
    )
    .action(
      action(async (opts: Options) => {
        const config = loadConfig();
        const { port } = opts;
        const token = opts.token || config.dashboardToken;
        const { checkExposure, startDashboard } = await import('../../dashboards/server/app.ts');
        checkExposure(opts.host, token || undefined);
        const storage = await openStorage({ databaseUrl: config.databaseUrl, home: config.home });
        let dash: Awaited<ReturnType<typeof startDashboard>>;
        try {
          dash = await startDashboard({
            db: storage.db,
            home: config.home,
            dataDir: config.dataDir,
            host: opts.host,
            port,
            token,
            temporalUiUrl: config.temporalUiUrl,
            temporalNamespace: config.temporalNamespace,
            mlflowUri: config.mlflowTrackingUri,
          });
        } catch (err) {
          await storage.close();
          throw err;
        }
        const link = token ? `${dash.url}/?token=<your token>` : `${dash.url}/`;
        process.stdout.write(
          `NucleiFlow dashboard on ${link}  (database: ${storage.kind} ${storage.location}; Ctrl-C stops)\n`,
        );
        await new Promise<void>((done) => {
          const stop = () => done();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await dash.close();
        await storage.close();
      }),
    );
}
