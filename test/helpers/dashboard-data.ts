/**
 * The database the dashboard tests look at. By default a fresh PGlite database seeded with
 * realistic rows (dashboard-seed.ts). With NUCLEIFLOW_DASHBOARD_REAL=1 the tests use the configured
 * tracking database instead (DATABASE_URL or the home's PGlite) and pick the two most recent
 * finished runs of one experiment, e.g. the two arms of a real `ablation-erosion` or two `quick`
 * runs; nothing else in the tests changes, because every expectation is computed from the rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, desc, eq, sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.ts';
import { openStorage, type Storage, schema } from '../../src/storage/index.ts';
import { seedDashboard, testImages } from '../../testing/dashboard-seed.ts';

export interface DashboardData {
  storage: Storage;
  home: string;
  dataDir: string;
  /** Two finished runs to compare (baseline first) with per-image results. */
  runA: string;
  runB: string;
  /** An image of runA that has per-image layers (label map, maps). */
  image: string;
  seeded: boolean;
  cleanup(): Promise<void>;
}

export async function dashboardData(opts: { runs?: number } = {}): Promise<DashboardData> {
  const config = loadConfig();
  if (config.dashboardReal) {
    const storage = await openStorage({ databaseUrl: config.databaseUrl, home: config.home });
    const { runs, imageResults, artifacts } = schema;
    const finished = await storage.db
      .select({ id: runs.id, experimentId: runs.experimentId })
      .from(runs)
      .where(sql`exists (select 1 from ${imageResults} where ${imageResults.runId} = ${runs.id})`)
      .orderBy(desc(runs.createdAt));
    const a = finished[0];
    const b = finished.find((r) => r.id !== a?.id && r.experimentId === a?.experimentId) ?? finished[1];
    if (!a || !b)
      throw new Error('NUCLEIFLOW_DASHBOARD_REAL=1 needs two finished runs in the tracking database');
    const withLabels = await storage.db
      .select({ path: artifacts.path })
      .from(artifacts)
      .where(and(eq(artifacts.runId, a.id), eq(artifacts.kind, 'labels')));
    const images = await storage.db
      .select({ image: imageResults.image })
      .from(imageResults)
      .where(and(eq(imageResults.runId, a.id), eq(imageResults.method, 'two-stage')));
    const image =
      images.find((i) => withLabels.some((w) => w.path.includes(i.image)))?.image ?? images[0]!.image;
    return {
      storage,
      home: config.home,
      dataDir: config.dataDir,
      runA: a.id,
      runB: b.id,
      image,
      seeded: false,
      cleanup: () => storage.close(),
    };
  }
  const home = mkdtempSync(join(tmpdir(), 'nf-dash-'));
  const storage = await openStorage({ home });
  const image = testImages(config.dataDir)[0]!.image;
  const seeded = await seedDashboard(storage.db, home, config.dataDir, {
    runs: opts.runs ?? 8,
    withLayers: [0, 1],
    layerImage: image,
    models: true,
  });
  return {
    storage,
    home,
    dataDir: config.dataDir,
    runA: seeded[0]!.id,
    runB: seeded[1]!.id,
    image,
    seeded: true,
    async cleanup() {
      await storage.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
