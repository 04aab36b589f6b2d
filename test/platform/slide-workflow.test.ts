// A slide through the slide workflow on real workers: the worker computing a region is killed mid-slide and costs
// only its in-flight regions, which another worker computes (a region recorded before the kill is never computed
// again); a second run skips the finished slide.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { regionExecutionLog, type SlideSummary } from '../../src/slide/pipeline.ts';
import { testSlide } from '../../testing/test-slide.ts';
import { spawnCli, usePlatformCli, waitFor } from '../helpers/platform.ts';

const out = mkdtempSync(join(tmpdir(), 'nf-slide-wf-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const recorded = (parts: string) =>
  readdirSync(parts)
    .filter((f) => /^r\d+c\d+\.json$/.test(f))
    .map((f) => f.slice(0, -5));

describe('the slide workflow on shared workers', { timeout: 900_000 }, () => {
  const fx = usePlatformCli();

  it('survives the computing worker killed mid-slide, spreading the regions over processes, and skips a finished slide', async () => {
    const { cli } = fx;
    const ts = await testSlide();
    const workers = [await cli.startWorker(), await cli.startWorker()];
    const seg = spawnCli(['segment', ts.svs40, '--out', out, '--parallel', '2'], cli.env);
    const parts = join(out, 'slide-40x.parts');
    // Once three regions are recorded, the worker computing a region that is not: its compute child's parent.
    const { before, victim } = await waitFor(
      'three recorded regions and one in flight',
      async () => {
        if (!existsSync(join(parts, 'executions.log'))) return undefined;
        const rec = new Set(recorded(parts));
        if (rec.size < 3) return undefined;
        const lines = readFileSync(join(parts, 'executions.log'), 'utf8').trim().split('\n');
        const inFlight = lines.map((l) => l.split(' ')).filter(([id]) => !rec.has(id!));
        const pid = inFlight.at(-1)?.[2];
        if (!pid) return undefined;
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        const w = workers.find((c) => c.pid === ppid);
        return w ? { before: [...rec], victim: w } : undefined;
      },
      600_000,
    );
    victim.kill('SIGKILL');
    await cli.startWorker();
    const done = await seg.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/slide-40x\.svs: \d+ nuclei in [\d.]+ mm\^2 of tissue/);
    const summary = JSON.parse(readFileSync(join(out, 'slide-40x.summary.json'), 'utf8')) as SlideSummary;
    const log = regionExecutionLog(parts);
    // Recorded before the kill: computed exactly once, whatever happened after.
    for (const id of before) expect(log.get(id), id).toHaveLength(1);
    expect(log.size).toBe(summary.regions.segmented);
    // Only the batches in flight on the killed worker can have run twice; at least one did.
    expect(summary.executions.total - summary.regions.segmented).toBeGreaterThanOrEqual(1);
    expect(summary.executions.total - summary.regions.segmented).toBeLessThanOrEqual(2 * 4);
    expect(Object.keys(summary.executions.byProcess).length).toBeGreaterThanOrEqual(2);
    expect(summary.nuclei).toBeGreaterThan(1000);

    const again = await cli.run(['segment', ts.svs40, '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already segmented with this model');
    expect(regionExecutionLog(parts)).toEqual(log);
    // The store's record: the second run found it done and says so; the counts are the first run's.
    const listed = await cli.run(['slides', '--json']);
    const rows = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      slide: ts.svs40,
      status: 'skipped',
      identity: summary.identity,
      regions: summary.regions.segmented,
      nuclei: summary.nuclei,
    });
  });
});
