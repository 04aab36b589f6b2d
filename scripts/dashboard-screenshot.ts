// Full-page screenshots of dashboard pages over the configured tracking store, for the docs: starts
// the dashboard in this process on a free loopback port, opens each page in headless Chromium (the
// one `scripts/setup.sh --with-browser` installs) once its tables have rendered, and writes PNGs.
// Usage: node --import tsx scripts/dashboard-screenshot.ts --out FILE.png PATH
//   e.g. PATH = '/compare?experiment=<id>'  (quote it: the shell reads ? and &)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDashboard } from '../dashboards/server/app.ts';
import { openDb } from '../platform/session.ts';
import { loadConfig } from '../src/config.ts';
import { launchChromium } from '../testing/chromium.ts';

const { values, positionals } = parseArgs({
  options: { out: { type: 'string' }, width: { type: 'string', default: '1440' } },
  allowPositionals: true,
});
const page = positionals[0];
if (!values.out || positionals.length !== 1 || !page?.startsWith('/')) {
  process.stderr.write('usage: scripts/dashboard-screenshot.ts --out FILE.png /dashboard/path\n');
  process.exit(2);
}
const out = resolve(values.out);
const config = loadConfig();
const storage = await openDb(config);
const dash = await startDashboard({
  db: storage.db,
  home: config.home,
  dataDir: config.dataDir,
  host: '127.0.0.1',
  port: 0,
  mlflowUri: config.mlflowTrackingUri,
  temporalUiUrl: config.temporalUiUrl,
});
const profile = mkdtempSync(join(tmpdir(), 'nf-screenshot-'));
try {
  const browser = await launchChromium(profile);
  try {
    const tab = browser.pages()[0] ?? (await browser.newPage());
    await tab.setViewportSize({ width: Number(values.width), height: 900 });
    const res = await tab.goto(`${dash.url}${page}`, { waitUntil: 'networkidle' });
    if (!res?.ok()) throw new Error(`${page}: HTTP ${res?.status()}`);
    mkdirSync(dirname(out), { recursive: true });
    await tab.screenshot({ path: out, fullPage: true });
    process.stdout.write(`${out}\n`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(profile, { recursive: true, force: true });
  await dash.close();
  await storage.close();
}
