import { describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { spawnCli, usePlatformCli, waitFor, waitForTerminal } from '../helpers/platform.ts';

describe('nucleiflow run', { timeout: 900_000 }, () => {
  const fx = usePlatformCli();

  it('rejects bad specs with the field path, exit 2, before anything starts', async () => {
    const { cli } = fx;
    const cases: Array<[string[], RegExp]> = [
      [['quick', '--set', 'training.seg.epochs="ten"'], /quick: training\.seg\.epochs: .*expected number/],
      [['quick', '--set', 'training.seg.colour=1'], /quick: training\.seg\.colour: unknown key/],
      [['quick', '--set', 'matrix={"gtErosion":[]}'], /quick: matrix\.gtErosion: needs at least one value/],
      [['no-such-spec'], /no-such-spec: no such spec/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli.run(['run', ...args])));
    results.forEach((r, i) => {
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stdout).toBe('');
    });
    const noData = await cli.run(['run', 'quick'], { env: { NUCLEIFLOW_DATA: '/nonexistent/monuseg' } });
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/NUCLEIFLOW_DATA: no MoNuSeg data at \/nonexistent\/monuseg/);
    expect(await tracking.listRuns(cli.storage.db)).toHaveLength(0);
  });

  it('detaches on Ctrl-C and the run goes on in the worker', async () => {
    const { cli } = fx;
    await cli.startWorker();
    const { child, out, exited } = spawnCli(
      [
        'run',
        'quick',
        '--set',
        'dataset.maxTestImages=1',
        '--set',
        'training.seg.epochs=10',
        '--set',
        'training.dist.epochs=10',
      ],
      cli.env,
    );
    const runId = await waitFor('the run id', async () => /^run (\S+)$/m.exec(out.stdout)?.[1]);
    await waitFor('training', async () => (await tracking.getMetrics(cli.storage.db, runId)).length > 0);
    child.kill('SIGINT');
    expect((await exited).code).toBe(0);
    expect(out.stderr).toMatch(/detached; the run goes on in the workers/);
    expect((await tracking.getRun(cli.storage.db, runId))!.status).toBe('running');
    const run = await waitForTerminal(cli, runId);
    expect(run.status).toBe('completed');
  });
});
