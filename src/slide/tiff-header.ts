// The first image directory of a TIFF (classic or BigTIFF), read from its header only: enough to tell
// a stripped plain image from a tiled or Aperio file that OpenSlide should have opened, and to say
// where a truncated file ends. Offsets and sizes are bytes in the file.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

export type FirstIfd =
  | { readonly ok: true; readonly tiled: boolean; readonly description: string | undefined }
  | { readonly ok: false; readonly problem: string };

const TAG_DESCRIPTION = 270;
const TAG_TILE_WIDTH = 322;

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer | undefined> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return bytesRead === len ? b : undefined;
}

/** Reads the first IFD of the TIFF at `path` (the caller has checked its signature). */
export async function readFirstIfd(path: string): Promise<FirstIfd> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 16);
    if (!head || head.length < 8)
      return { ok: false, problem: `only ${size} bytes, shorter than a TIFF header` };
    const le = head[0] === 0x49;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const big = u16(head, 2) === 43;
    const ifdAt = big ? u64(head, 8) : u32(head, 4);
    const beyond = (what: string, at: number) => ({
      ok: false as const,
      problem: `${what} at byte ${at} lies beyond the end of the file (${size} bytes)`,
    });
    const countBytes = big ? 8 : 2;
    const entryBytes = big ? 20 : 12;
    const countBuf = await readAt(fh, ifdAt, countBytes);
    if (!countBuf) return beyond('its first image directory', ifdAt);
    const n = big ? u64(countBuf, 0) : u16(countBuf, 0);
    if (n === 0 || n > 4096) return { ok: false, problem: `its first image directory claims ${n} entries` };
    const entries = await readAt(fh, ifdAt + countBytes, n * entryBytes);
    if (!entries) return beyond('the end of its first image directory', ifdAt + countBytes + n * entryBytes);
    let tiled = false;
    let description: string | undefined;
    for (let i = 0; i < n; i++) {
      const e = i * entryBytes;
      const tag = u16(entries, e);
      if (tag === TAG_TILE_WIDTH) tiled = true;
      if (tag === TAG_DESCRIPTION) {
        const count = big ? u64(entries, e + 4) : u32(entries, e + 4);
        const inline = big ? 8 : 4;
        const len = Math.min(count, 256); // the start is all that is needed (e.g. 'Aperio Image Library')
        const valueAt = big ? e + 12 : e + 8;
        const bytes =
          count <= inline
            ? entries.subarray(valueAt, valueAt + count)
            : await readAt(fh, big ? u64(entries, valueAt) : u32(entries, valueAt), len);
        if (!bytes)
          return beyond('its image description', big ? u64(entries, valueAt) : u32(entries, valueAt));
        description = bytes.toString('latin1').replace(/\0+$/, '');
      }
    }
    return { ok: true, tiled, description };
  } finally {
    await fh.close();
  }
}
