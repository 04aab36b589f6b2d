// A slide's identity: a hash that tells one slide file from another without reading gigabytes.
//
// Hashed: the file's size, its first and last MiB (TIFF headers and directories, NDPI/SVS
// descriptions, the first and last tiles), the reader's view (vendor, level sizes and downsamples,
// mpp, objective), and the pixels of the lowest-resolution level as read (every tile of the slide
// contributes to them; when that level is over 4 Mpx, as in a one-level image, 16 tiles of 256 x 256
// on a 4 x 4 grid of it instead). A slide changed between a failure and its resume is refused on any of
// these; an edit that changes only level-0 pixels in the middle of the file and leaves the header,
// the last MiB and the thumbnail bit-identical is not seen, which no scanner or converter does.
// Cost: two 1 MiB reads plus at most 4 Mpx of pixels. The file's mtime is not part of it:
// copying a slide to another disk keeps its identity.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import type { Slide } from './types.ts';

const EDGE_BYTES = 1 << 20;
const MAX_LEVEL_PIXELS = 1 << 22;
const SAMPLE_TILE = 256;

export interface SlideIdentity {
  /** sha256, hex, of everything listed in this file's header. */
  readonly hash: string;
  readonly bytes: number;
}

/** The identity of `slide`, opened from `slide.path`. O(2 MiB + 4 Mpx). */
export async function slideIdentity(
  slide: Pick<Slide, 'path' | 'vendor' | 'levels' | 'mpp' | 'objectivePower' | 'readRegion'>,
): Promise<SlideIdentity> {
  const h = createHash('sha256');
  let bytes: number;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(slide.path, 'r');
  } catch (err) {
    throw new InputError(slide.path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    bytes = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(EDGE_BYTES, bytes));
    await fh.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(EDGE_BYTES, bytes));
    await fh.read(tail, 0, tail.length, bytes - tail.length);
    h.update(`bytes ${bytes}\n`).update(head).update(tail);
  } finally {
    await fh.close();
  }
  h.update(
    JSON.stringify({
      vendor: slide.vendor,
      levels: slide.levels,
      mpp: slide.mpp ?? null,
      objectivePower: slide.objectivePower ?? null,
    }),
  );
  const level = slide.levels.length - 1;
  const { width, height } = slide.levels[level]!;
  const { downsample } = slide.levels[level]!;
  if (width * height <= MAX_LEVEL_PIXELS) {
    h.update(await slide.readRegion({ x: 0, y: 0, level, width, height }));
  } else {
    const tw = Math.min(SAMPLE_TILE, width);
    const th = Math.min(SAMPLE_TILE, height);
    for (let j = 0; j < 4; j++) {
      for (let i = 0; i < 4; i++) {
        // Level pixel offsets, converted to level-0 coordinates as readRegion takes them.
        const lx = Math.floor(((width - tw) * i) / 3);
        const ly = Math.floor(((height - th) * j) / 3);
        const x = Math.floor(lx * downsample);
        const y = Math.floor(ly * downsample);
        h.update(await slide.readRegion({ x, y, level, width: tw, height: th }));
      }
    }
  }
  return { hash: h.digest('hex'), bytes };
}
