// Streaming per-nucleus outputs of a whole-slide run: QuPath GeoJSON (optionally gzipped) and a CSV, written as
// nuclei arrive so memory does not grow with their number.
//
// Files: each output goes to `<final>.tmp-<pid>` in the final folder (same file system, so rename is atomic) and is
// renamed only by close(), after every stream finished without error; then the GeoJSON is renamed first, the CSV
// second. If the second rename fails, the first final file is removed again, so a pair is never half there (a file
// that was at that name before the run is then gone too). abort() and any write error remove the temporary files.
// GeoJSON layout: a FeatureCollection header line with foreign members `model`, `slide` (and `mpp` when known), then
// one Feature per line (the separating comma at the line's end), then the closing line. CSV: `# model: <JSON>`, the
// header, one row per nucleus; µm columns are empty without a pixel size, `cut` is true / false.
// Coordinates are level-0 pixel corners (integers: the outline along pixel edges, outlines.ts); measures are
// rounded to 4 decimals and centroids to 2.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { InputError } from '../errors.ts';
import { nameUuid, nucleusFeature } from '../imaging/geojson.ts';
import { type NucleusMeasures, nucleusMeasures } from '../imaging/nucleus-measures.ts';
import { outlineOfMask, type PolygonRings } from '../imaging/outlines.ts';
import { writeError } from '../io/atomic-write.ts';
import { csvField } from '../io/csv.ts';
import { instanceMask, type OwnedInstance } from './stitch.ts';

/** One nucleus ready to write: its outline and measures in level-0 pixels. */
export interface NucleusRecord {
  readonly region: string;
  readonly label: number;
  readonly cut: boolean;
  /** The pixel-edge outline (outlineOfMask), level-0 pixel corners: one polygon, or several for a nucleus in pieces. */
  readonly polygons: readonly PolygonRings[];
  readonly measures: NucleusMeasures;
}

/**
 * The record of an owned instance: its outline (outlineOfMask on instanceMask, offset to level 0) and measures.
 * `rgbOfBox` is the RGB of `inst.box` (3 bytes per pixel, row-major), for the haematoxylin OD; `mpp` the level-0
 * pixel size in µm.
 */
export function nucleusRecord(inst: OwnedInstance, rgbOfBox?: Uint8Array, mpp?: number): NucleusRecord {
  const { box } = inst;
  const mask = instanceMask(inst);
  return {
    region: inst.region,
    label: inst.label,
    cut: inst.cut,
    polygons: outlineOfMask(mask, box.width, box.height, box.x, box.y),
    measures: nucleusMeasures(mask, box, {
      ...(rgbOfBox ? { rgb: rgbOfBox } : {}),
      ...(mpp === undefined ? {} : { mpp }),
    }),
  };
}

export const CSV_HEADER = [
  'id',
  'region',
  'centroid_x_px',
  'centroid_y_px',
  'centroid_x_um',
  'centroid_y_um',
  'area_px',
  'area_um2',
  'perimeter_um',
  'eccentricity',
  'solidity',
  'hematoxylin_od',
  'cut',
] as const;

export interface SlideOutputPaths {
  /** `.geojson`, or `.geojson.gz` for gzip. */
  readonly geojson?: string;
  readonly csv?: string;
}

export interface SlideOutputMeta {
  readonly model: Readonly<Record<string, unknown>>;
  readonly slide: string;
  /** Level-0 µm per pixel; records must carry µm measures iff it is given. */
  readonly mpp?: number;
}

export interface SlideOutputOptions {
  /** Gzip the GeoJSON even when its name does not end in `.gz`. */
  readonly gzip?: boolean;
  /** Opens a temporary file for writing (tests inject failing streams); by default an fs stream, flushed on close. */
  readonly openStream?: (path: string) => Promise<Writable>;
}

export interface SlideOutputs {
  /** Writes one nucleus; resolves once the streams accept more (await it before the next). Ids run 1, 2, ... */
  add(rec: NucleusRecord): Promise<void>;
  /** Ends the streams and renames the files into place; returns how many nuclei were written. */
  close(): Promise<{ readonly nuclei: number }>;
  /** Stops and removes the temporary files; nothing appears at the final names. */
  abort(): Promise<void>;
}

async function openFile(path: string): Promise<Writable> {
  const s = createWriteStream(path, { flags: 'w', flush: true });
  await once(s, 'ready');
  return s;
}

/** One output: a temporary file, the stream written to (gzip or the file) and its completion. */
interface Sink {
  readonly final: string;
  readonly tmp: string;
  readonly head: Writable;
  readonly streams: readonly Writable[];
  readonly done: Promise<void>;
  error?: unknown;
}

async function openSink(
  final: string,
  gzip: boolean,
  open: (path: string) => Promise<Writable>,
): Promise<Sink> {
  const tmp = `${final}.tmp-${process.pid}`;
  let file: Writable;
  try {
    file = await open(tmp);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw ioError(final, err);
  }
  const gz = gzip ? createGzip() : undefined;
  const done = gz ? pipeline(gz, file) : finished(file);
  const sink: Sink = { final, tmp, head: gz ?? file, streams: gz ? [gz, file] : [file], done };
  done.catch((err: unknown) => {
    sink.error ??= err;
  });
  return sink;
}

async function write(sink: Sink, s: string): Promise<void> {
  if (sink.error !== undefined) throw sink.error;
  if (!sink.head.write(s)) {
    // 'drain' or the stream failing, whichever comes first.
    const drained = once(sink.head, 'drain');
    drained.catch(() => {});
    await Promise.race([drained, sink.done]);
    if (sink.error !== undefined) throw sink.error;
  }
}

/** An I/O failure on `path` as an InputError naming the path and the problem. */
function ioError(path: string, err: unknown): InputError {
  const e = writeError(path, err);
  if (e instanceof InputError) return e;
  return new InputError(path, `cannot write: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

const r2 = (v: number): number => Math.round(v * 100) / 100;
const r4 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e4) / 1e4);

/** Opens the outputs named in `paths` (layout and guarantees in this file's header). */
export async function openSlideOutputs(
  paths: SlideOutputPaths,
  meta: SlideOutputMeta,
  opts: SlideOutputOptions = {},
): Promise<SlideOutputs> {
  if (paths.geojson === undefined && paths.csv === undefined) {
    throw new RangeError('openSlideOutputs: give a GeoJSON path, a CSV path or both');
  }
  const open = opts.openStream ?? openFile;
  const sinks: Sink[] = [];
  let geo: Sink | undefined;
  let csv: Sink | undefined;
  let state: 'open' | 'closed' | 'failed' = 'open';
  let n = 0;

  const discard = async (): Promise<void> => {
    for (const s of sinks) for (const st of s.streams) st.destroy();
    await Promise.all(sinks.map((s) => s.done.catch(() => {})));
    await Promise.all(sinks.map((s) => unlink(s.tmp).catch(() => {})));
  };
  const fail = async (sink: Sink | undefined, err: unknown): Promise<never> => {
    state = 'failed';
    await discard();
    throw sink ? ioError(sink.final, err) : err;
  };

  try {
    if (paths.geojson !== undefined) {
      geo = await openSink(paths.geojson, opts.gzip ?? paths.geojson.endsWith('.gz'), open);
      sinks.push(geo);
    }
    if (paths.csv !== undefined) {
      csv = await openSink(paths.csv, false, open);
      sinks.push(csv);
    }
  } catch (err) {
    return fail(undefined, err);
  }

  const header = {
    type: 'FeatureCollection',
    model: meta.model,
    slide: meta.slide,
    ...(meta.mpp === undefined ? {} : { mpp: meta.mpp }),
  };
  const headerJson = JSON.stringify(header);
  const start = async (): Promise<void> => {
    if (geo) await write(geo, `${headerJson.slice(0, -1)},"features":[\n`).catch((e) => fail(geo, e));
    if (csv) {
      await write(csv, `# model: ${JSON.stringify(meta.model)}\n${CSV_HEADER.join(',')}\n`).catch((e) =>
        fail(csv, e),
      );
    }
  };
  await start();

  const checkOpen = (what: string): void => {
    if (state !== 'open') throw new Error(`slide outputs: ${what} after the outputs were ${state}`);
  };

  return {
    async add(rec) {
      checkOpen('add');
      const m = rec.measures;
      if ((meta.mpp === undefined) !== (m.areaUm2 === null)) {
        throw new RangeError(
          `slide outputs: nucleus ${rec.region}/${rec.label} ${m.areaUm2 === null ? 'lacks' : 'has'} µm measures but the outputs were opened ${meta.mpp === undefined ? 'without' : 'with'} a pixel size`,
        );
      }
      const id = ++n;
      if (geo) {
        const f = nucleusFeature({
          polygons: rec.polygons,
          measurements: {
            'Area px': m.areaPx,
            'Area µm^2': r4(m.areaUm2),
            'Perimeter px': r4(m.perimeterPx),
            'Perimeter µm': r4(m.perimeterUm),
            Eccentricity: r4(m.eccentricity),
            Solidity: r4(m.solidity),
            'Hematoxylin OD mean': r4(m.hematoxylinOd),
          },
          nucleiflow: { id, region: rec.region, label: rec.label, cut: rec.cut },
          uuid: nameUuid(`${meta.slide}\n${rec.region}\n${rec.label}`),
        });
        await write(geo, `${id > 1 ? ',\n' : ''}${JSON.stringify(f)}`).catch((e) => fail(geo, e));
      }
      if (csv) {
        const row = [
          id,
          rec.region,
          r2(m.centroidXPx),
          r2(m.centroidYPx),
          m.centroidXUm === null ? null : r2(m.centroidXUm),
          m.centroidYUm === null ? null : r2(m.centroidYUm),
          m.areaPx,
          r4(m.areaUm2),
          r4(m.perimeterUm),
          r4(m.eccentricity),
          r4(m.solidity),
          r4(m.hematoxylinOd),
          rec.cut ? 'true' : 'false',
        ];
        await write(csv, `${row.map(csvField).join(',')}\n`).catch((e) => fail(csv, e));
      }
    },

    async close() {
      checkOpen('close');
      state = 'closed';
      for (const s of sinks) {
        try {
          if (s.error !== undefined) throw s.error;
          if (s === geo) s.head.end('\n]}\n');
          else s.head.end();
          await s.done;
        } catch (err) {
          return fail(s, err);
        }
      }
      const renamed: string[] = [];
      for (const s of sinks) {
        try {
          await rename(s.tmp, s.final);
          renamed.push(s.final);
        } catch (err) {
          await Promise.all(renamed.map((p) => unlink(p).catch(() => {})));
          await Promise.all(sinks.map((t) => unlink(t.tmp).catch(() => {})));
          throw ioError(s.final, err);
        }
      }
      return { nuclei: n };
    },

    async abort() {
      if (state === 'closed') return;
      state = 'failed';
      await discard();
    },
  };
}
