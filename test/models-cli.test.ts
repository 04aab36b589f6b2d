// `nucleiflow models` and `segment --model` against an embedded (PGlite) store under a home of its
// own: list/show/JSON, aliases refused on unfinished runs, unknown names and aliases listing the
// known ones, export written whole with checked weights and a generated card, MLflow unreachable
// leaving the alias queued, and segment using the `default` alias and naming it in its outputs.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { readRgb } from '../src/imaging/io.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { openStorage } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import { type ModelCard, scoresHeading, setAlias } from '../src/tracking/registry.ts';
import { registerSeededModel } from '../testing/dashboard-seed.ts';
import { runCli } from './helpers/cli.ts';

const home = mkdtempSync(join(tmpdir(), 'nf-models-'));
// The embedded store under `home`, and no MLflow unless a test names one.
const { DATABASE_URL: _db, MLFLOW_TRACKING_URI: _ml, ...inherited } = process.env;
const env: NodeJS.ProcessEnv = { ...inherited, NUCLEIFLOW_HOME: home, TF_CPP_MIN_LOG_LEVEL: '3' };
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
  const r = runCli(args, { env: { ...env, ...extra }, timeoutMs: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
};
const img = join(home, 'in', 'tile.png');

beforeAll(async () => {
  // Two completed runs of `quick` and one still running, registered as versions 1, 2 and 3.
  const storage = await openStorage({ home });
  const { db } = storage;
  const spec = { name: 'quick' };
  for (const [i, status] of (['completed', 'completed', 'running'] as const).entries()) {
    const id = `e${i}`;
    await tracking.createExperiment(db, {
      id,
      name: 'quick',
      specName: 'quick',
      spec,
      workflowId: `exp-${id}`,
      runs: [{ id: `${id}-r0`, arm: {}, spec, configHash: 'h', seed: 1, workflowId: `run-${id}` }],
    });
    await tracking.markRunStarted(db, `${id}-r0`, { codeCommit: 'c1', workerHost: 'box', workflowId: 'w' });
    await tracking.putImageResults(db, `${id}-r0`, [
      {
        method: 'two-stage',
        image: 'a',
        organ: 'Breast',
        subset: 'seen',
        dice: 0.8,
        f1: 0.7,
        aji: 0.5 + i / 10,
        ajiPlus: 0.5,
        pq: 0.4,
        nGt: 9,
        nPred: 9,
      },
    ]);
    if (status === 'completed') await tracking.setRunStatus(db, `${id}-r0`, 'completed');
    await registerSeededModel(db, home, `${id}-r0`);
  }
  // Each test stands alone: the default alias is there from the start.
  await setAlias(db, 'quick', 2, 'default');
  await storage.close();
  const rgb = await readRgb(join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'));
  mkdirSync(join(home, 'in'));
  await sharp(Buffer.from(rgb.data.buffer), { raw: { width: 1000, height: 1000, channels: 3 } })
    .extract({ left: 0, top: 0, width: 288, height: 256 })
    .png()
    .toFile(img);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('nucleiflow models', () => {
  it('lists every version with its run and aliases, as text and JSON', () => {
    const list = cli(['models']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^quick@1\s+e0-r0\s+completed\s+50\.00/m);
    const json = JSON.parse(cli(['models', '--json']).stdout) as Array<Record<string, unknown>>;
    expect(json.map((v) => [v.name, v.version, v.runId, v.aliases])).toEqual([
      ['quick', 1, 'e0-r0', []],
      ['quick', 2, 'e1-r0', ['default']],
      ['quick', 3, 'e2-r0', []],
    ]);
  });

  it('refuses an alias on an unfinished run and unknown names, versions and aliases, one line each', () => {
    const running = cli(['models', 'alias', 'quick@3', 'default']);
    expect(running.code).toBe(1);
    expect(running.stderr).toBe(
      'nucleiflow: model quick@3: its run e2-r0 is running, not completed; an alias needs a completed run',
    );
    const name = cli(['models', 'show', 'nope']);
    expect([name.code, name.stderr]).toEqual([
      1,
      "nucleiflow: model 'nope': not in the registry (known models: quick)",
    ]);
    const version = cli(['models', 'show', 'quick@9']);
    expect(version.stderr).toBe("nucleiflow: model 'quick': no version 9 (known versions: 1, 2, 3)");
    const alias = cli(['models', 'show', 'quick@staging']);
    expect([alias.code, alias.stderr]).toEqual([
      1,
      "nucleiflow: model 'quick': no alias 'staging' (known aliases: default -> 2)",
    ]);
  });

  it('sets an alias, keeping it queued for MLflow (exit 3, one line) while MLflow is unreachable', () => {
    const r = cli(['models', 'alias', 'quick@2', 'default'], { MLFLOW_TRACKING_URI: 'http://127.0.0.1:59' });
    expect(r.stdout).toMatch(/^quick@default -> version 2 \(run e1-r0\)$/m);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^nucleiflow: MLflow registry not updated, \d+ record\(s\) queued \(MLflow at .* unreachable/,
    );
    const show = JSON.parse(cli(['models', 'show', 'quick@default', '--json']).stdout);
    expect([show.version, show.aliases, show.runId, show.mlflowVersion]).toEqual([
      2,
      ['default'],
      'e1-r0',
      null,
    ]);
    expect(show.card.scores.all.aji).toBeCloseTo(0.6, 12);
    // A bare name is its default alias.
    expect(JSON.parse(cli(['models', 'show', 'quick', '--json']).stdout).version).toBe(2);
    const sync = cli(['models', 'sync'], { MLFLOW_TRACKING_URI: 'http://127.0.0.1:59' });
    expect(sync.code).toBe(3);
    expect(sync.stderr).toMatch(/queued/);
  });

  it('exports a version as a complete folder with checked weights, card.json and README.md', () => {
    const out = join(home, 'export', 'quick');
    const r = cli(['models', 'export', 'quick@default', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'card.json', 'dist.bin', 'model.json', 'seg.bin']);
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(join(out, 'seg.bin'))).toBe(sha(join(SHIPPED_MODEL_DIR, 'seg.bin')));
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
    expect([card.name, card.version, card.run, card.aliases, card.codeCommit]).toEqual([
      'quick',
      2,
      'e1-r0',
      ['default'],
      'c1',
    ]);
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toContain('# quick@2');
    expect(readme).toContain('| Run | e1-r0 (experiment e1) |');
    expect(readme).toMatch(/\| all \| 80\.00 \| 70\.00 \| 60\.00 \|/);
    expect(readme).toContain('0.2527 um/px (40x)');
    // Replacing needs --force; without it the folder is left as it was.
    const again = cli(['models', 'export', 'quick@1', '--out', out]);
    expect([again.code, again.stderr]).toEqual([
      1,
      `nucleiflow: --out ${out}: already exists and is not empty (pass --force to replace it)`,
    ]);
    expect(cli(['models', 'export', 'quick@1', '--out', out, '--force']).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')).version).toBe(1);
    expect(readdirSync(join(home, 'export'))).toEqual(['quick']);
  });

  it('refuses to export weights that no longer match their sha256, writing nothing', () => {
    const bad = join(home, 'runs', 'e0-r0', 'model', 'dist.bin');
    const keep = readFileSync(bad);
    writeFileSync(bad, Buffer.concat([keep.subarray(0, keep.length - 1), Buffer.from([keep.at(-1)! ^ 1])]));
    try {
      const out = join(home, 'export', 'corrupt');
      const r = cli(['models', 'export', 'quick@1', '--out', out]);
      expect([r.code, r.stderr]).toEqual([
        1,
        `nucleiflow: model quick@1: ${bad} does not match its sha256 in model.json (corrupt)`,
      ]);
      expect(existsSync(out)).toBe(false);
      const parent = join(home, 'export');
      expect(existsSync(parent) ? readdirSync(parent).filter((n) => n.includes('corrupt')) : []).toEqual([]);
    } finally {
      writeFileSync(bad, keep);
    }
  });
});

describe('segment --model', () => {
  it("uses the registry's default alias without --model and names it in the GeoJSON and CSV", () => {
    const out = join(home, 'seg-default');
    const r = cli(['segment', img, '--out', out, '--format', 'geojson']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model: quick@2 \(run e1-r0\)$/m);
    expect(JSON.parse(readFileSync(join(out, 'tile.geojson'), 'utf8')).model).toEqual({
      name: 'quick',
      version: 2,
      run: 'e1-r0',
    });
    const csv = readFileSync(join(out, 'tile.csv'), 'utf8').split('\n');
    expect(csv.slice(0, 2)).toEqual([
      '# model: quick@2 (run e1-r0)',
      'id,area,centroid_x,centroid_y,mean_intensity',
    ]);
  });

  it('takes NAME@VERSION, a folder (named with its sha256), and refuses an unknown name listing the known', () => {
    const v1 = cli(['segment', img, '--out', join(home, 'seg-v1'), '--model', 'quick@1']);
    expect(v1.code, v1.stderr).toBe(0);
    expect(readFileSync(join(home, 'seg-v1', 'tile.csv'), 'utf8').split('\n')[0]).toBe(
      '# model: quick@1 (run e0-r0)',
    );
    const folder = cli([
      'segment',
      img,
      '--out',
      join(home, 'seg-dir'),
      '--model',
      SHIPPED_MODEL_DIR,
      '--format',
      'geojson',
    ]);
    expect(folder.code, folder.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'model.json'), 'utf8'));
    expect(JSON.parse(readFileSync(join(home, 'seg-dir', 'tile.geojson'), 'utf8')).model).toEqual({
      folder: SHIPPED_MODEL_DIR,
      sha256: manifest.sha256,
    });
    const unknown = cli(['segment', img, '--out', join(home, 'seg-x'), '--model', 'paper@default']);
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      "nucleiflow: model 'paper': not in the registry (known models: quick)",
    ]);
    expect(existsSync(join(home, 'seg-x'))).toBe(false);
  });

  it('falls back to the shipped folder, saying why in one line, when the configured store is unreachable', () => {
    const r = cli(['segment', img, '--out', join(home, 'seg-down')], {
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:9/none',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('nucleiflow:'))).toEqual([
      expect.stringMatching(/^nucleiflow: DATABASE_URL: cannot connect to .*; using the shipped model$/),
    ]);
    expect(r.stdout).toContain(`model: folder ${SHIPPED_MODEL_DIR} (seg sha256 `);
  });

  it('falls back to the shipped folder when the home has no store', () => {
    const bare = mkdtempSync(join(tmpdir(), 'nf-bare-'));
    try {
      const r = cli(['segment', img, '--out', join(bare, 'o')], { NUCLEIFLOW_HOME: bare });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`model: folder ${SHIPPED_MODEL_DIR} (seg sha256 `);
      expect(existsSync(join(bare, 'pglite'))).toBe(false);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('model card scores by split', () => {
  const card = (split: string | undefined) =>
    ({
      ...(split ? { split } : {}),
      scores: { nImages: split === 'all' ? 0 : 4 },
    }) as unknown as ModelCard;

  it('says what the scores are on, and that a model trained on all 30 images is not scored', () => {
    expect(scoresHeading(card(undefined))).toEqual({
      scored: true,
      text: 'Scores, two-stage, on the Kumar test split (8 same-organ and 6 other-organ images) (percent, mean over 4 images)',
    });
    expect(scoresHeading(card('kumar-val')).text).toMatch(
      /^Scores, two-stage, on the kumar-val validation split/,
    );
    const all = scoresHeading(card('all'));
    expect(all.scored).toBe(false);
    expect(all.text).toMatch(/^Not scored: it trained on all 30 images, the Kumar test images among them/);
  });
});
