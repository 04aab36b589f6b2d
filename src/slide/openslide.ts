// The one module that owns koffi and the OpenSlide C API. Region coordinates are level-0 pixels (OpenSlide's
// convention, pixel (x, y) centred at x + 0.5, y + 0.5); pixels come back as 8-bit RGB, interleaved, row-major.
//
// The library is OpenSlide 4.0.1 from the openslide-bin wheel in the tools venv (scripts/setup-tools-venv.sh),
// or NUCLEIFLOW_OPENSLIDE_LIB. Calls go through koffi (its prebuilt binaries ship in the npm package);
// openslide_read_region runs on koffi's worker threads (`.async`), so a large read does not block the event
// loop. OpenSlide handles are thread-safe for reads; close waits for reads in flight.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { type Config, toolsVenvDir } from '../config.ts';
import { InputError, UserError } from '../errors.ts';
import { checkRegion, type RegionRequest, type Slide, type SlideLevel } from './types.ts';

const SETUP_HINT = 'run `bash scripts/setup.sh` (or set NUCLEIFLOW_OPENSLIDE_LIB to a libopenslide.so.1)';

/**
 * The OpenSlide library file: NUCLEIFLOW_OPENSLIDE_LIB, else `openslide_bin/libopenslide.so.1` in the
 * tools venv that scripts/setup-tools-venv.sh builds for the current requirements. Throws a UserError
 * with the setup hint when it is not there.
 */
export function openSlideLibraryPath(config: Config): string {
  if (config.openSlideLib) return config.openSlideLib;
  const venv = toolsVenvDir(config);
  const lib = join(venv, 'lib');
  const pythons = existsSync(lib) ? readdirSync(lib).filter((d) => /^python3\.\d+$/.test(d)) : [];
  for (const py of pythons) {
    const candidate = join(lib, py, 'site-packages', 'openslide_bin', 'libopenslide.so.1');
    if (existsSync(candidate)) return candidate;
  }
  throw new UserError(
    `the OpenSlide library is not installed (no openslide_bin/libopenslide.so.1 in the tools venv ${venv}); ${SETUP_HINT}`,
  );
}

type Handle = unknown;

interface Api {
  readonly version: string;
  detectVendor(path: string): string | null;
  open(path: string): Handle | null;
  close(h: Handle): void;
  getError(h: Handle): string | null;
  levelCount(h: Handle): number;
  levelDimensions(h: Handle, level: number, w: number[], hgt: number[]): void;
  levelDownsample(h: Handle, level: number): number;
  property(h: Handle, name: string): string | null;
  readRegion: {
    async(
      h: Handle,
      dest: Uint32Array,
      x: number,
      y: number,
      level: number,
      w: number,
      hgt: number,
      cb: (err: unknown) => void,
    ): void;
  };
}

const apis = new Map<string, Api>();
/** koffi type names are process-wide: declare OpenSlide's opaque handle once, whichever library loads. */
let handleTypeDeclared = false;

/** Loads the library once per process and binds the functions NucleiFlow uses. */
export function openSlideApi(config: Config): Api {
  const path = openSlideLibraryPath(config);
  const cached = apis.get(path);
  if (cached) return cached;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new UserError(
      `cannot load the OpenSlide library ${path}: ${(err as Error).message}; ${SETUP_HINT}`,
      {
        cause: err,
      },
    );
  }
  if (!handleTypeDeclared) {
    koffi.opaque('openslide_t');
    handleTypeDeclared = true;
  }
  const api: Api = {
    version: lib.func('const char *openslide_get_version()')() as string,
    detectVendor: lib.func('const char *openslide_detect_vendor(const char *filename)'),
    open: lib.func('openslide_t *openslide_open(const char *filename)'),
    close: lib.func('void openslide_close(openslide_t *osr)'),
    getError: lib.func('const char *openslide_get_error(openslide_t *osr)'),
    levelCount: lib.func('int32_t openslide_get_level_count(openslide_t *osr)'),
    levelDimensions: lib.func(
      'void openslide_get_level_dimensions(openslide_t *osr, int32_t level, _Out_ int64_t *w, _Out_ int64_t *h)',
    ),
    levelDownsample: lib.func('double openslide_get_level_downsample(openslide_t *osr, int32_t level)'),
    property: lib.func('const char *openslide_get_property_value(openslide_t *osr, const char *name)'),
    readRegion: lib.func(
      'void openslide_read_region(openslide_t *osr, uint32_t *dest, int64_t x, int64_t y, int32_t level, int64_t w, int64_t h)',
    ),
  };
  apis.set(path, api);
  return api;
}

/**
 * Flattens OpenSlide's premultiplied ARGB (one native uint32 per pixel) onto white, in place, into
 * RGB in the first 3n bytes of the same buffer. With premultiplied p = c * a / 255, compositing
 * the un-premultiplied colour c onto white is c * a / 255 + 255 * (1 - a / 255) = p + 255 - a, so
 * that is computed directly (no rounding of an intermediate un-premultiplied value); opaque pixels
 * keep their colour, fully transparent ones (outside the slide, gaps between scanned areas) become
 * white, as openslide-python's deep-zoom generator does with its default background. Writing pixel
 * i's 3 bytes never overtakes the 4 bytes of a pixel not yet read, so one buffer suffices.
 */
export function flattenArgbOntoWhite(buf: ArrayBuffer, n: number): Uint8Array {
  const argb = new Uint32Array(buf, 0, n);
  const out = new Uint8Array(buf, 0, n * 3);
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const p = argb[i]!;
    const white = 255 - (p >>> 24);
    const r = ((p >>> 16) & 255) + white;
    const g = ((p >>> 8) & 255) + white;
    const b = (p & 255) + white;
    // A well-formed premultiplied channel never exceeds alpha; clamp rather than wrap if one does.
    out[o] = Math.min(r, 255);
    out[o + 1] = Math.min(g, 255);
    out[o + 2] = Math.min(b, 255);
  }
  return out;
}

/**
 * koffi throws once more than max_async_calls (256) async calls are running or queued, so reads
 * beyond this many wait here, process-wide, in order. Decoding is CPU-bound: more in flight than
 * koffi's worker threads would only queue inside koffi instead.
 */
const MAX_READS_IN_FLIGHT = 32;
let readsInFlight = 0;
const waiting: (() => void)[] = [];

async function withReadSlot<T>(fn: () => Promise<T>): Promise<T> {
  // A finished read hands its slot straight to the next waiter, so the count never overshoots.
  if (readsInFlight >= MAX_READS_IN_FLIGHT) await new Promise<void>((r) => waiting.push(r));
  else readsInFlight++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else readsInFlight--;
  }
}

function finiteNumber(s: string | null): number | undefined {
  if (s === null || s.trim() === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * Opens `path` with OpenSlide. Returns undefined when OpenSlide does not recognise the format (the
 * caller may try another reader); throws InputError naming the file, with OpenSlide's own message,
 * when it recognises the file but cannot open it (corrupt or truncated).
 */
export function openWithOpenSlide(path: string, config: Config): Slide | undefined {
  const api = openSlideApi(config);
  const vendor = api.detectVendor(path);
  const h = api.open(path);
  if (h === null) {
    if (vendor === null) return undefined;
    throw new InputError(path, `OpenSlide detects a '${vendor}' slide but cannot open it`);
  }
  const openError = api.getError(h);
  if (openError !== null) {
    api.close(h);
    throw new InputError(path, `OpenSlide cannot open it: ${openError}`);
  }

  const levels: SlideLevel[] = [];
  const count = api.levelCount(h);
  for (let i = 0; i < count; i++) {
    const w = [0];
    const hh = [0];
    api.levelDimensions(h, i, w, hh);
    levels.push({ width: Number(w[0]), height: Number(hh[0]), downsample: api.levelDownsample(h, i) });
  }
  const mppX = finiteNumber(api.property(h, 'openslide.mpp-x'));
  const mppY = finiteNumber(api.property(h, 'openslide.mpp-y'));
  const objectivePower = finiteNumber(api.property(h, 'openslide.objective-power'));
  const lateError = api.getError(h);
  if (lateError !== null || count < 1) {
    api.close(h);
    throw new InputError(path, `OpenSlide cannot read its levels: ${lateError ?? 'no levels'}`);
  }

  let closed = false;
  let inFlight = 0;
  let closeRequested = false;
  let failure: InputError | undefined;
  const release = () => {
    if (!closed && closeRequested && inFlight === 0) {
      closed = true;
      api.close(h);
    }
  };

  const slide: Slide = {
    path,
    vendor: api.property(h, 'openslide.vendor') ?? vendor ?? 'unknown',
    levels,
    mpp: mppX !== undefined && mppY !== undefined ? { x: mppX, y: mppY } : undefined,
    objectivePower,
    property(name) {
      if (closeRequested) throw new Error(`${path}: slide is closed`);
      return api.property(h, name) ?? undefined;
    },
    async readRegion(r: RegionRequest): Promise<Uint8Array> {
      if (closeRequested) throw new Error(`${path}: slide is closed`);
      if (failure) throw failure;
      checkRegion(slide, r);
      const n = r.width * r.height;
      const buf = new ArrayBuffer(n * 4);
      inFlight++;
      try {
        await withReadSlot(
          () =>
            new Promise<void>((resolve, reject) => {
              api.readRegion.async(h, new Uint32Array(buf), r.x, r.y, r.level, r.width, r.height, (err) =>
                err ? reject(err) : resolve(),
              );
            }),
        );
        // After an error OpenSlide's handle answers every later call with it: keep it and report it once more.
        const err = api.getError(h);
        if (err !== null) {
          failure = new InputError(
            path,
            `OpenSlide cannot read level ${r.level} at (${r.x}, ${r.y}), ${r.width}x${r.height}: ${err}`,
          );
          throw failure;
        }
      } finally {
        inFlight--;
        release();
      }
      return flattenArgbOntoWhite(buf, n);
    },
    close() {
      closeRequested = true;
      release();
    },
  };
  return slide;
}
