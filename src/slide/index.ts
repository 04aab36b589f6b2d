// Opening slides. Region coordinates are level-0 pixels (OpenSlide's convention, pixel (x, y) centred at
// x + 0.5, y + 0.5); pixels come back as 8-bit RGB, interleaved, row-major.
//
// Whole-slide formats (Aperio SVS, tiled/pyramidal TIFF, NDPI, MIRAX, Philips TIFF, Ventana BIF, and
// the rest OpenSlide reads) go through OpenSlide (./openslide.ts). Plain TIFF/PNG/JPEG that OpenSlide
// does not take (PNG and JPEG always; a stripped, untiled TIFF such as MoNuSeg's) are read with sharp
// as a one-level slide.
import { open as openFile } from 'node:fs/promises';
import { type Config, loadConfig } from '../config.ts';
import { InputError } from '../errors.ts';
import { readRgb } from '../imaging/io.ts';
import { openWithOpenSlide } from './openslide.ts';
import { readFirstIfd } from './tiff-header.ts';
import { checkRegion, type RegionRequest, type Slide } from './types.ts';

export type { RegionRequest, Slide, SlideLevel } from './types.ts';

type Signature = 'tiff' | 'png' | 'jpeg' | 'other';

async function signature(path: string): Promise<Signature> {
  let fh: Awaited<ReturnType<typeof openFile>>;
  try {
    fh = await openFile(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(path, 'file not found', { cause: err });
    if (code === 'EACCES') throw new InputError(path, 'permission denied', { cause: err });
    throw new InputError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    // MIRAX is a .mrxs file beside a folder of the same name; the file itself is what is opened.
    if (st.isDirectory()) throw new InputError(path, 'is a directory, expected a slide file');
    if (st.size === 0) throw new InputError(path, 'empty file');
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    if ((b[0] === 0x49 && b[1] === 0x49) || (b[0] === 0x4d && b[1] === 0x4d)) return 'tiff';
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
    return 'other';
  } finally {
    await fh.close();
  }
}

/**
 * A plain image as a one-level slide. It is decoded whole into memory at open (sharp/libvips,
 * through readRgb), so it must fit: 3 bytes per pixel. That is fine for the image sizes users pass
 * today; a huge untiled image would need a streaming reader. No pixel size or objective is read
 * from plain images (PNG's pHYs and TIFF's resolution tags are too often 72-dpi defaults).
 */
async function openPlainImage(path: string, kind: 'tiff' | 'png' | 'jpeg'): Promise<Slide> {
  const img = await readRgb(path);
  let closed = false;
  const slide: Slide = {
    path,
    vendor: `image/${kind}`,
    levels: [{ width: img.width, height: img.height, downsample: 1 }],
    mpp: undefined,
    objectivePower: undefined,
    property: () => undefined,
    async readRegion(r: RegionRequest): Promise<Uint8Array> {
      if (closed) throw new Error(`${path}: slide is closed`);
      checkRegion(slide, r);
      const out = new Uint8Array(r.width * r.height * 3).fill(255);
      const x0 = Math.max(r.x, 0);
      const x1 = Math.min(r.x + r.width, img.width);
      if (x1 <= x0) return out;
      for (let y = Math.max(r.y, 0); y < Math.min(r.y + r.height, img.height); y++) {
        out.set(
          img.data.subarray((y * img.width + x0) * 3, (y * img.width + x1) * 3),
          ((y - r.y) * r.width + (x0 - r.x)) * 3,
        );
      }
      return out;
    },
    close() {
      closed = true;
    },
  };
  return slide;
}

/**
 * A TIFF that OpenSlide did not take: a stripped TIFF is a plain image, but OpenSlide reads every
 * well-formed tiled TIFF and every Aperio file, so such a file it does not recognise is broken and
 * reading its first page as a plain image would hide that.
 */
async function checkPlainTiff(path: string): Promise<void> {
  const ifd = await readFirstIfd(path);
  if (!ifd.ok) throw new InputError(path, `corrupt or truncated TIFF: ${ifd.problem}`);
  if (ifd.tiled || ifd.description?.startsWith('Aperio')) {
    const what = ifd.description?.startsWith('Aperio') ? 'an Aperio slide' : 'a tiled TIFF';
    throw new InputError(
      path,
      `corrupt or truncated slide: ${what} that OpenSlide does not recognise (an image directory or its tile data cannot be read)`,
    );
  }
}

/**
 * What a file is, read from its header: a slide OpenSlide opened, or the kind of a plain image (or
 * 'other' for a file OpenSlide does not recognise that is no TIFF, PNG or JPEG). PNG and JPEG never
 * reach OpenSlide, so they need no library. Throws as openSlide does.
 */
async function classify(path: string, config: Config): Promise<Slide | 'tiff' | 'png' | 'jpeg' | 'other'> {
  const sig = await signature(path);
  if (sig === 'png' || sig === 'jpeg') return sig;
  const slide = openWithOpenSlide(path, config);
  if (slide) return slide;
  if (sig === 'tiff') await checkPlainTiff(path);
  return sig;
}

/**
 * Opens a slide or plain image. Throws InputError naming the file for a missing, empty, corrupt,
 * truncated or unsupported file (with OpenSlide's own message when OpenSlide recognised it), and a
 * UserError with the setup hint when the OpenSlide library is not installed and the file needs it.
 */
export async function openSlide(path: string, config: Config = loadConfig()): Promise<Slide> {
  const c = await classify(path, config);
  if (typeof c !== 'string') return c;
  if (c !== 'other') return openPlainImage(path, c);
  throw new InputError(
    path,
    'unsupported file: not a slide format OpenSlide reads (SVS, TIFF, NDPI, VMS, MRXS, SCN, BIF, DICOM, ...) nor a TIFF, PNG or JPEG image',
  );
}

/**
 * Whether `segment` takes the file as a whole slide (OpenSlide opens it) rather than a plain image
 * segmented in one piece (PNG, JPEG, a stripped TIFF, or a file OpenSlide does not recognise, which
 * the image reader then reports). Decided by content, not by the file name, and without decoding
 * pixels. Throws as openSlide does for a missing, empty or corrupt file.
 */
export async function isWholeSlide(path: string, config: Config = loadConfig()): Promise<boolean> {
  const c = await classify(path, config);
  if (typeof c === 'string') return false;
  c.close();
  return true;
}

/** The slide's microns per pixel; throws InputError naming the file when it has none. */
export function requireMpp(slide: Pick<Slide, 'path' | 'mpp'>): { x: number; y: number } {
  if (slide.mpp === undefined) {
    throw new InputError(
      slide.path,
      'no pixel size: the file records no microns per pixel (openslide.mpp-x/-y), so the slide cannot be scaled to the model',
    );
  }
  return slide.mpp;
}
