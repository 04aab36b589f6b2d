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

  it('train is a thin client: one tracked run of the shipped recipe through Temporal, tiny by --set', async () => {
    const { cli } = fx;
    const tiny = ['seg', 'dist'].flatMap((s) => [
      ...['--set', `training.${s}.steps=3`, '--set', `training.${s}.lrSchedule.atSteps=[1]`],
      ...['--set', `training.${s}.inputSize=64`, '--set', `training.${s}.stepsPerEpoch=2`],
    ]);
    const r = await cli.run([
      'train',
      ...['--set', 'dataset.maxTrainImages=2', '--set', 'dataset.maxTestImages=1'],
      ...tiny,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const runId = /^run (\S+)$/m.exec(r.stdout)?.[1];
    const expId = /^experiment (\S+)$/m.exec(r.stdout)?.[1];
    const { db } = cli.storage;
    const exp = (await tracking.getExperiment(db, expId!))!;
    expect(exp.specName).toBe('cpu-60min-c256');
    const run = (await tracking.getRun(db, runId!))!;
    expect(run.status).toBe('completed');
    expect((await tracking.listRuns(db, { experimentId: expId! })).map((x) => x.id)).toEqual([runId]);
    // 3 steps of 2 per epoch: the second epoch is one step; the lr dropped after step 1 in both nets.
    const trained = tracking.trainedOf(run) as Record<'seg' | 'dist', tracking.TrainedStage>;
    for (const stage of ['seg', 'dist'] as const) {
      const t = trained[stage];
      expect({ ...t, wallSeconds: 0, cpuSeconds: 0 }, stage).toEqual({
        budget: { kind: 'steps', value: 3 },
        steps: 3,
        epochs: 2,
        lrDrops: [1],
        wallSeconds: 0,
        cpuSeconds: 0,
      });
      expect(t.wallSeconds).toBeGreaterThan(0);
      expect(t.cpuSeconds).toBeGreaterThan(0);
      const steps = (await tracking.getMetrics(db, runId!, stage)).filter((m) => m.key === 'steps');
      expect(steps.map((m) => [m.step, m.value])).toEqual([
        [1, 2],
        [2, 3],
      ]);
    }
    // train prints what each net ran and where the model folder is; show prints the same record.
    expect(r.stdout).toMatch(/^seg\s+3 steps\s+3\s+2\s+1\s/m);
    expect(r.stdout).toMatch(/^model folder \S+\/model$/m);
    const show = await cli.run(['show', runId!]);
    expect(show.stdout).toMatch(
      /^Trained\nNet\s+Budget\s+Steps\s+Epochs\s+lr drops after step\s+Wall min\s+Machine min$/m,
    );
    expect(show.stdout).toMatch(/^dist\s+3 steps\s+3\s+2\s+1\s/m);

    // One run only: a matrix spec is for `run`; the old per-field flags are gone.
    const matrix = await cli.run(['train', '--spec', 'ablation-erosion-c256']);
    expect(matrix.code).toBe(2);
    expect(matrix.stderr.trim()).toBe(
      'nucleiflow: train: ablation-erosion-c256 expands into 4 runs; train runs one (use nucleiflow run ablation-erosion-c256 for a matrix)',
    );
    const old = await cli.run(['train', '--schedule', 'cpu-60min-c256']);
    expect(old.code).toBe(2);
    expect(old.stderr.trim()).toBe("error: unknown option '--schedule'");
  });
});
