import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.ts';
import { nameUuid, nucleiGeoJson, nucleusFeature } from '../src/imaging/geojson.ts';
import { signedArea, traceOutlines } from '../src/imaging/outlines.ts';
import { CSV_HEADER, type NucleusRecord, nucleusRecord, openSlideOutputs } from '../src/slide/outputs.ts';
import type { Box } from '../src/slide/regions.ts';
import { instanceMask, type OwnedInstance } from '../src/slide/stitch.ts';
import { centresInside } from './helpers/centres-inside.ts';

const root = mkdtempSync(join(tmpdir(), 'nf-slide-outputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const freshDir = (): string => {
  const d = join(root, `t${k++}`);
  mkdirSync(d);
  return d;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MODEL = { name: 'unet', version: 3 };

/** A filled disk of radius r centred in its box at level-0 (x0, y0), as an OwnedInstance. */
function disk(x0: number, y0: number, r: number, label = 1, region = 'r0c0'): OwnedInstance {
  const s = 2 * r + 1;
  const rows: number[] = [];
  let area = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < s; y++) {
    let xs = -1;
    let xe = -1;
    for (let x = 0; x < s; x++) {
      if ((x - r) ** 2 + (y - r) ** 2 <= r * r) {
        if (xs < 0) xs = x;
        xe = x + 1;
      }
    }
    rows.push(y + y0, xs + x0, xe + x0);
    for (let x = xs; x < xe; x++) {
      area++;
      sx += x + x0 + 0.5;
      sy += y + y0 + 0.5;
    }
  }
  const box: Box = { x: x0, y: y0, width: s, height: s };
  return {
    region,
    label,
    area,
    centroid: { x: sx / area, y: sy / area },
    box,
    runs: Int32Array.from(rows),
    cut: label % 2 === 0,
  };
}

type Fc = {
  type: string;
  model: unknown;
  slide: string;
  features: {
    type: string;
    id: string;
    geometry:
      | { type: 'Polygon'; coordinates: [number, number][][] }
      | { type: 'MultiPolygon'; coordinates: [number, number][][][] };
    properties: {
      objectType: string;
      classification: { name: string; color: number[] };
      isLocked: boolean;
      measurements: Record<string, number>;
      nucleiflow: { id: number; region: string; label: number; cut: boolean };
    };
  }[];
};

/** Checks a parsed FeatureCollection the way a GeoJSON reader would, plus QuPath's fields. */
function expectValidQuPath(fc: Fc): void {
  expect(fc.type).toBe('FeatureCollection');
  for (const f of fc.features) {
    expect(f.type).toBe('Feature');
    expect(f.id).toMatch(UUID);
    const g = f.geometry;
    expect(['Polygon', 'MultiPolygon']).toContain(g.type);
    const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
    expect(polygons.length).toBeGreaterThan(0);
    for (const rings of polygons) {
      // RFC 7946: the exterior ring counter-clockwise (positive signed area in x, y as written), holes clockwise.
      rings.forEach((ring, i) => {
        expect(ring.length).toBeGreaterThanOrEqual(4);
        expect(ring[0]).toEqual(ring.at(-1));
        for (const p of ring) {
          expect(p.length).toBe(2);
          expect(p.every(Number.isFinite)).toBe(true);
        }
        expect(Math.sign(signedArea(ring))).toBe(i === 0 ? 1 : -1);
      });
    }
    expect(f.properties.objectType).toBe('detection');
    expect(f.properties.classification).toEqual({ name: 'Nucleus', color: [0, 200, 0] });
    expect(f.properties.isLocked).toBe(false);
    for (const v of Object.values(f.properties.measurements)) expect(Number.isFinite(v)).toBe(true);
  }
}

const files = (d: string): string[] => readdirSync(d).sort();

describe('nucleusFeature / nucleiGeoJson', () => {
  it('builds one QuPath detection Feature, leaving out missing measurements', () => {
    const f = nucleusFeature({
      polygons: [
        [
          [
            [0, 0],
            [3, 0],
            [3, 3],
            [0, 0],
          ],
        ],
      ],
      measurements: { 'Area px': 9, 'Area µm^2': null, Solidity: Number.NaN },
      nucleiflow: { id: 4 },
    });
    expect(f.id).toMatch(UUID);
    expect(f.properties.measurements).toEqual({ 'Area px': 9 });
    expect(f.properties.nucleiflow).toEqual({ id: 4 });
    expectValidQuPath({ type: 'FeatureCollection', model: null, slide: '', features: [f] } as unknown as Fc);
  });

  it('rejects a ring that is not closed or too short', () => {
    const open: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
    ];
    expect(() => nucleusFeature({ polygons: [[open]], nucleiflow: {} })).toThrow(/first = last/);
    expect(() =>
      nucleusFeature({
        polygons: [
          [
            [
              [0, 0],
              [1, 0],
              [0, 0],
            ],
          ],
        ],
        nucleiflow: {},
      }),
    ).toThrow(/>= 4/);
    expect(() => nucleusFeature({ polygons: [], nucleiflow: {} })).toThrow(/no polygon/);
  });

  it('the tile path uses it: UUID ids, area as "Area px", outline id under nucleiflow, stable with a seed', () => {
    const labels = { width: 4, height: 3, data: new Int32Array([1, 1, 0, 2, 1, 1, 0, 2, 0, 0, 0, 2]) };
    const contours = traceOutlines(labels);
    const areas = new Map([
      [1, { area: 4 }],
      [2, { area: 3 }],
    ]);
    const text = nucleiGeoJson(contours, areas, MODEL, 'tile');
    const fc = JSON.parse(text) as Fc;
    expectValidQuPath(fc);
    expect(fc.model).toEqual(MODEL);
    expect(fc.features.map((f) => f.properties.nucleiflow.id)).toEqual([1, 2]);
    expect(fc.features.map((f) => f.properties.measurements['Area px'])).toEqual([4, 3]);
    expect(fc.features.map((f) => f.geometry.coordinates)).toEqual([
      [
        [
          [0, 0],
          [2, 0],
          [2, 2],
          [0, 2],
          [0, 0],
        ],
      ],
      [
        [
          [3, 0],
          [4, 0],
          [4, 3],
          [3, 3],
          [3, 0],
        ],
      ],
    ]);
    expect(nucleiGeoJson(contours, areas, MODEL, 'tile')).toBe(text);
    expect(nucleiGeoJson(contours, areas, MODEL)).not.toBe(text);
  });

  it('nameUuid is an RFC 4122 version-5 UUID, the same for the same name', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_URL, 'nucleiflow')
    expect(nameUuid('nucleiflow')).toBe('964deb27-837c-5200-b71d-7395367aa1e3');
    expect(nameUuid('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(nameUuid('a')).toBe(nameUuid('a'));
    expect(nameUuid('a')).not.toBe(nameUuid('b'));
  });
});

describe('nucleusRecord', () => {
  it('gives the pixel-edge outline in level-0 corners and measures matching the instance', () => {
    const inst = disk(1000, 2000, 6);
    const rec = nucleusRecord(inst, undefined, 0.25);
    expect(rec.measures.areaPx).toBe(inst.area);
    expect(rec.measures.centroidXPx).toBeCloseTo(inst.centroid.x, 9);
    expect(rec.measures.centroidYPx).toBeCloseTo(inst.centroid.y, 9);
    expect(rec.measures.areaUm2).toBeCloseTo(inst.area / 16, 9);
    expect(rec.polygons.length).toBe(1);
    const shell = rec.polygons[0]![0]!;
    expect(rec.polygons[0]!.length).toBe(1);
    expect(shell[0]).toEqual(shell.at(-1));
    for (const [x, y] of shell) {
      expect(Number.isInteger(x) && Number.isInteger(y)).toBe(true);
      expect(x >= 1000 && x <= 1000 + inst.box.width && y >= 2000 && y <= 2000 + inst.box.height).toBe(true);
    }
    // The disk's top row is pixel 1006 alone: its top-left corner starts the ring, its top-right follows.
    expect(shell.slice(0, 2)).toEqual([
      [1006, 2000],
      [1007, 2000],
    ]);
    expect(signedArea(shell)).toBe(inst.area);
    expect(centresInside([shell], inst.box)).toEqual(instanceMask(inst));
    expect(rec.measures.hematoxylinOd).toBeNull();
    const rgb = new Uint8Array(3 * inst.box.width * inst.box.height).fill(255);
    expect(nucleusRecord(inst, rgb).measures.hematoxylinOd).toBe(0);
  });
});

describe('openSlideOutputs', () => {
  const three = (): NucleusRecord[] => [
    nucleusRecord(disk(10, 20, 5, 1), undefined, 0.5),
    nucleusRecord(disk(100, 20, 7, 2, 'r0c1'), undefined, 0.5),
    nucleusRecord(disk(10, 200, 4, 3, 'r1c0'), undefined, 0.5),
  ];

  it('writes a valid QuPath FeatureCollection with model and slide, and the CSV, only at close', async () => {
    const d = freshDir();
    const geojson = join(d, 's.geojson');
    const csv = join(d, 's.csv');
    const w = await openSlideOutputs({ geojson, csv }, { model: MODEL, slide: 'slide.svs', mpp: 0.5 });
    for (const r of three()) await w.add(r);
    expect(files(d)).toEqual([`s.csv.tmp-${process.pid}`, `s.geojson.tmp-${process.pid}`]);
    expect(await w.close()).toEqual({ nuclei: 3 });
    expect(files(d)).toEqual(['s.csv', 's.geojson']);

    const text = readFileSync(geojson, 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBe(5);
    const fc = JSON.parse(text) as Fc;
    expectValidQuPath(fc);
    expect(fc.model).toEqual(MODEL);
    expect(fc.slide).toBe('slide.svs');
    expect(fc.features.length).toBe(3);
    const f = fc.features[1]!;
    expect(f.properties.nucleiflow).toEqual({ id: 2, region: 'r0c1', label: 2, cut: true });
    expect(Object.keys(f.properties.measurements).sort()).toEqual(
      ['Area px', 'Area µm^2', 'Perimeter px', 'Perimeter µm', 'Eccentricity', 'Solidity'].sort(),
    );
    expect(f.properties.measurements['Area µm^2']).toBeCloseTo(f.properties.measurements['Area px']! / 4, 3);
    expect(f.id).toBe(nameUuid('slide.svs\nr0c1\n2'));
    expect(new Set(fc.features.map((g) => g.id)).size).toBe(3);

    const rows = readFileSync(csv, 'utf8').split('\n');
    expect(rows[0]).toBe(`# model: ${JSON.stringify(MODEL)}`);
    expect(rows[1]).toBe(CSV_HEADER.join(','));
    expect(rows[1]).toBe(
      'id,region,centroid_x_px,centroid_y_px,centroid_x_um,centroid_y_um,area_px,area_um2,perimeter_um,eccentricity,solidity,hematoxylin_od,cut',
    );
    expect(rows.length).toBe(6);
    expect(rows[5]).toBe('');
    const c = rows[3]!.split(',');
    expect(c.length).toBe(13);
    // disk(100, 20, 7): a 15 x 15 box, centre (107.5, 27.5).
    expect(c.slice(0, 6)).toEqual(['2', 'r0c1', '107.5', '27.5', '53.75', '13.75']);
    expect(Number(c[6])).toBe(f.properties.measurements['Area px']);
    expect(c[11]).toBe('');
    expect(c[12]).toBe('true');
  });

  it('writes a nucleus in two pieces meeting at a corner as one MultiPolygon with the pieces area', async () => {
    const d = freshDir();
    const geojson = join(d, 'm.geojson');
    // Pixels (0, 0) and (1, 1) of a 2 x 2 box at level-0 (40, 10): 4-connected pieces, one nucleus.
    const inst: OwnedInstance = {
      region: 'r0c0',
      label: 1,
      area: 2,
      centroid: { x: 41, y: 11 },
      box: { x: 40, y: 10, width: 2, height: 2 },
      runs: Int32Array.from([10, 40, 41, 11, 41, 42]),
      cut: false,
    };
    const w = await openSlideOutputs({ geojson }, { model: MODEL, slide: 's' });
    await w.add(nucleusRecord(inst));
    await w.close();
    const fc = JSON.parse(readFileSync(geojson, 'utf8')) as Fc;
    expectValidQuPath(fc);
    expect(fc.features[0]!.geometry).toEqual({
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [40, 10],
            [41, 10],
            [41, 11],
            [40, 11],
            [40, 10],
          ],
        ],
        [
          [
            [41, 11],
            [42, 11],
            [42, 12],
            [41, 12],
            [41, 11],
          ],
        ],
      ],
    });
  });

  it('leaves µm columns and measurements out without a pixel size; H-OD present with RGB', async () => {
    const d = freshDir();
    const inst = disk(0, 0, 4);
    const rgb = new Uint8Array(3 * inst.box.width * inst.box.height).fill(60);
    const w = await openSlideOutputs(
      { geojson: join(d, 'a.geojson'), csv: join(d, 'a.csv') },
      { model: MODEL, slide: 's' },
    );
    await w.add(nucleusRecord(inst, rgb));
    await expect(w.add(nucleusRecord(inst, rgb, 0.5))).rejects.toThrow(/pixel size/);
    await w.close();
    const row = readFileSync(join(d, 'a.csv'), 'utf8').split('\n')[2]!.split(',');
    expect([row[4], row[5], row[7], row[8]]).toEqual(['', '', '', '']);
    expect(Number(row[11])).toBeGreaterThan(0);
    const m = (JSON.parse(readFileSync(join(d, 'a.geojson'), 'utf8')) as Fc).features[0]!.properties
      .measurements;
    expect(Object.keys(m).some((x) => x.includes('µm'))).toBe(false);
    expect(m['Hematoxylin OD mean']).toBeGreaterThan(0);
  });

  it('gzips a .geojson.gz (and with gzip: true), round trip through gunzipSync', async () => {
    const d = freshDir();
    const w = await openSlideOutputs(
      { geojson: join(d, 's.geojson.gz') },
      { model: MODEL, slide: 'x', mpp: 0.5 },
    );
    for (const r of three()) await w.add(r);
    await w.close();
    const raw = readFileSync(join(d, 's.geojson.gz'));
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    const fc = JSON.parse(gunzipSync(raw).toString('utf8')) as Fc;
    expectValidQuPath(fc);
    expect(fc.features.length).toBe(3);

    const w2 = await openSlideOutputs(
      { geojson: join(d, 'g.json') },
      { model: MODEL, slide: 'x' },
      { gzip: true },
    );
    await w2.close();
    const empty = JSON.parse(gunzipSync(readFileSync(join(d, 'g.json'))).toString('utf8')) as Fc;
    expect(empty.features).toEqual([]);
    expect(files(d)).toEqual(['g.json', 's.geojson.gz']);
  });

  it('streams 10,000 nuclei without buffering beyond the stream: bounded queue, file growing while writing', async () => {
    const d = freshDir();
    const geojson = join(d, 'big.geojson');
    let stream: Writable | undefined;
    let maxQueued = 0;
    const w = await openSlideOutputs(
      { geojson, csv: join(d, 'big.csv') },
      { model: MODEL, slide: 'big', mpp: 0.25 },
      {
        openStream: async (p) => {
          const { createWriteStream } = await import('node:fs');
          const s = createWriteStream(p);
          if (p.includes('.geojson')) stream = s;
          return s;
        },
      },
    );
    const base = disk(0, 0, 12);
    const rec = nucleusRecord(base, undefined, 0.25);
    const sizes: number[] = [];
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) {
      const dx = (i % 100) * 30;
      const dy = Math.floor(i / 100) * 30;
      await w.add({
        ...rec,
        label: i + 1,
        polygons: rec.polygons.map((p) =>
          p.map((r) => r.map(([x, y]): [number, number] => [x + dx, y + dy])),
        ),
        measures: { ...rec.measures, centroidXPx: rec.measures.centroidXPx + dx },
      });
      maxQueued = Math.max(maxQueued, stream!.writableLength);
      if (i % 2500 === 2499) sizes.push(statSync(`${geojson}.tmp-${process.pid}`).size);
    }
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    await w.close();
    const total = statSync(geojson).size;
    // One feature line is about 1.2 kB; the queue stays within the 16 kB high-water mark plus one line.
    expect(total).toBeGreaterThan(10_000_000);
    expect(maxQueued).toBeLessThan(stream!.writableHighWaterMark + 4096);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeGreaterThan(sizes[i - 1]!);
    expect(sizes[1]!).toBeGreaterThan(0.4 * total);
    // Holding the features would take > 12 MB of strings; garbage aside, growth stays well below that.
    expect(heapGrowth).toBeLessThan(total);
    const fc = JSON.parse(readFileSync(geojson, 'utf8')) as Fc;
    expect(fc.features.length).toBe(10_000);
    expect(fc.features[9999]!.properties.nucleiflow.id).toBe(10_000);
    expect(readFileSync(join(d, 'big.csv'), 'utf8').split('\n').length).toBe(10_003);
  }, 60_000);

  it('an unwritable folder gives an InputError naming the path, and no file at the final name', async () => {
    const d = freshDir();
    const missing = join(d, 'no', 'such', 's.geojson');
    const err = await openSlideOutputs({ geojson: missing }, { model: MODEL, slide: 's' }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe(missing);
    expect((err as Error).message).toContain(missing);
    expect((err as Error).message).toMatch(/folder does not exist/);
    // The GeoJSON opens, the CSV cannot: the first temporary file goes too.
    const notDir = join(d, 'file');
    writeFileSync(notDir, 'x');
    const csv = join(notDir, 's.csv');
    const err2 = await openSlideOutputs(
      { geojson: join(d, 'ok.geojson'), csv },
      { model: MODEL, slide: 's' },
    ).catch((e) => e);
    expect(err2).toBeInstanceOf(InputError);
    expect((err2 as InputError).file).toBe(csv);
    expect(files(d)).toEqual(['file']);
  });

  it('a stream failing mid-way (ENOSPC) rejects with an InputError and leaves no final or temporary files', async () => {
    const d = freshDir();
    const geojson = join(d, 'f.geojson');
    const csv = join(d, 'f.csv');
    const w = await openSlideOutputs(
      { geojson, csv },
      { model: MODEL, slide: 's', mpp: 0.5 },
      {
        openStream: async (p) => {
          writeFileSync(p, '');
          let written = 0;
          return new Writable({
            highWaterMark: 1024,
            write(chunk: Buffer, _enc, cb) {
              written += chunk.length;
              if (p.includes('.csv') && written > 5000) {
                cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
              } else setImmediate(cb);
            },
          });
        },
      },
    );
    const rec = three()[0]!;
    let err: unknown;
    try {
      for (let i = 0; i < 1000; i++) await w.add(rec);
      await w.close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe(csv);
    expect((err as Error).message).toMatch(/no space left/);
    expect(files(d)).toEqual([]);
    await expect(w.add(rec)).rejects.toThrow(/failed/);
  });

  it('a failure while ending the stream is caught at close, with nothing left behind', async () => {
    const d = freshDir();
    const geojson = join(d, 'e.geojson');
    const w = await openSlideOutputs(
      { geojson },
      { model: MODEL, slide: 's' },
      {
        openStream: async (p) => {
          writeFileSync(p, '');
          return new Writable({
            write(_c, _e, cb) {
              cb();
            },
            final(cb) {
              cb(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
            },
          });
        },
      },
    );
    await w.add(nucleusRecord(disk(0, 0, 3)));
    const err = await w.close().catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(geojson);
    expect(files(d)).toEqual([]);
  });

  it('when the second rename fails the first final file is removed again', async () => {
    const d = freshDir();
    const csv = join(d, 'taken.csv');
    mkdirSync(csv);
    writeFileSync(join(csv, 'keep'), 'x');
    const w = await openSlideOutputs({ geojson: join(d, 'p.geojson'), csv }, { model: MODEL, slide: 's' });
    await w.add(nucleusRecord(disk(0, 0, 3)));
    const err = await w.close().catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe(csv);
    expect(files(d)).toEqual(['taken.csv']);
  });

  it('abort leaves nothing, and the writer refuses further use', async () => {
    const d = freshDir();
    const w = await openSlideOutputs(
      { geojson: join(d, 'a.geojson.gz'), csv: join(d, 'a.csv') },
      { model: MODEL, slide: 's', mpp: 0.5 },
    );
    for (const r of three()) await w.add(r);
    await w.abort();
    expect(files(d)).toEqual([]);
    await expect(w.close()).rejects.toThrow(/failed/);
  });
});
