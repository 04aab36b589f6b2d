import {
  closeSync,
  copyFileSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.ts';
import { slideIdentity } from '../src/slide/identity.ts';
import { openSlide } from '../src/slide/index.ts';
import { PARTS_FORMAT, type PartsKey, PartsStore } from '../src/slide/parts.ts';
import { EDGE_SLIDE, testSlide } from '../testing/test-slide.ts';

let dir: string;
let svs: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nf-parts-'));
  svs = (await testSlide(EDGE_SLIDE)).svs40;
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function identityOf(path: string): Promise<string> {
  const s = await openSlide(path);
  try {
    return (await slideIdentity(s)).hash;
  } finally {
    s.close();
  }
}

describe('slideIdentity', () => {
  it('is the same for a copy of the file and changes when a byte of it changes', async () => {
    const a = await identityOf(svs);
    const copy = join(dir, 'copy.svs');
    copyFileSync(svs, copy);
    expect(await identityOf(copy)).toBe(a);
    // The last byte: past every header, in the last MiB that the identity hashes.
    const fd = openSync(copy, 'r+');
    const size = fstatSync(fd).size;
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, size - 1);
    closeSync(fd);
    expect(await identityOf(copy)).not.toBe(a);
  });
});

describe('slideIdentity, part by part', () => {
  // A 3 MiB file and a fake reader, so each hashed part can be changed alone.
  const fake = (path: string, over: { mpp?: number; pixel?: number } = {}) => ({
    path,
    vendor: 'aperio',
    levels: [
      { width: 4096, height: 4096, downsample: 1 },
      { width: 64, height: 64, downsample: 64 },
    ],
    mpp: { x: over.mpp ?? 0.25, y: over.mpp ?? 0.25 },
    objectivePower: 40,
    readRegion: async (r: { width: number; height: number }) =>
      new Uint8Array(r.width * r.height * 3).fill(over.pixel ?? 200),
  });
  const flip = (path: string, at: number) => {
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, at);
    closeSync(fd);
  };

  it('sees the first and last MiB, the reader view and the smallest level, not the middle of the file', async () => {
    const f = join(dir, 'blob.bin');
    writeFileSync(f, Buffer.alloc(3 << 20, 7));
    const base = (await slideIdentity(fake(f))).hash;
    flip(f, (3 << 20) - 1);
    const tail = (await slideIdentity(fake(f))).hash;
    expect(tail).not.toBe(base);
    flip(f, 10);
    const head = (await slideIdentity(fake(f))).hash;
    expect(head).not.toBe(tail);
    flip(f, 3 << 19); // the middle: the stated limit
    expect((await slideIdentity(fake(f))).hash).toBe(head);
    expect((await slideIdentity(fake(f, { mpp: 0.5 }))).hash).not.toBe(head);
    expect((await slideIdentity(fake(f, { pixel: 201 }))).hash).not.toBe(head);
  });
});

describe('PartsStore', () => {
  const key: PartsKey = {
    slide: 's.svs',
    identity: 'a'.repeat(64),
    model: 'm@1',
    core: 1024,
    margin: 64,
    scale: 1,
  };

  it('keeps the parts of the same key across opens, and lists them', async () => {
    const p = join(dir, 'keep.parts');
    const s = await PartsStore.open<{ id: number }>(p, key);
    expect(s.done().size).toBe(0);
    await s.write({ region: 'r0c1', nuclei: [{ id: 3 }], cut: 0, notOwned: 2, ms: 5 });
    const again = await PartsStore.open<{ id: number }>(p, key);
    expect([...again.done()]).toEqual(['r0c1']);
    expect(again.read('r0c1').nuclei).toEqual([{ id: 3 }]);
    // Only whole parts are there: no temporary file left beside them.
    expect(readdirSync(p).sort()).toEqual(['plan.json', 'r0c1.json']);
  });

  it('refuses another slide identity, model or grid naming what changed, and --force starts over', async () => {
    const p = join(dir, 'refuse.parts');
    const s = await PartsStore.open(p, key);
    await s.write({ region: 'r0c0', nuclei: [], cut: 0, notOwned: 0, ms: 1 });
    await expect(PartsStore.open(p, { ...key, identity: 'b'.repeat(64) })).rejects.toThrow(
      /^s\.svs: the file changed \(identity aaaaaaaaaaaa -> bbbbbbbbbbbb\)/,
    );
    await expect(PartsStore.open(p, { ...key, model: 'm@2' })).rejects.toThrow(
      /the model changed \(m@1 -> m@2\)/,
    );
    await expect(PartsStore.open(p, { ...key, margin: 32 })).rejects.toBeInstanceOf(InputError);
    expect([...(await PartsStore.open(p, key)).done()]).toEqual(['r0c0']);
    const fresh = await PartsStore.open(p, { ...key, model: 'm@2' }, { restart: true });
    expect(fresh.done().size).toBe(0);
    expect((await PartsStore.open(p, { ...key, model: 'm@2' })).key.model).toBe('m@2');
  });
  it('refuses a folder written in an older parts format (no format in plan.json), and --force starts over', async () => {
    const p = join(dir, 'old.parts');
    const s = await PartsStore.open(p, key);
    await s.write({ region: 'r0c0', nuclei: [], cut: 0, notOwned: 0, ms: 1 });
    expect(JSON.parse(readFileSync(join(p, 'plan.json'), 'utf8')).format).toBe(PARTS_FORMAT);
    writeFileSync(join(p, 'plan.json'), JSON.stringify(key));
    await expect(PartsStore.open(p, key)).rejects.toThrow(
      new RegExp(
        `^s\\.svs: the region parts in .*old\\.parts are in format 1, this version reads format ${PARTS_FORMAT}; pass --force`,
      ),
    );
    expect((await PartsStore.open(p, key, { restart: true })).done().size).toBe(0);
  });
});
