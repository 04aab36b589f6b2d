// Slides: region coordinates are LEVEL-0 pixels (OpenSlide's convention), integer pixel indices of
// the top-left pixel whose centre is at (x + 0.5, y + 0.5); pixels come back as 8-bit RGB, interleaved, row-major.

/** One level of a slide's pyramid. */
export interface SlideLevel {
  readonly width: number;
  readonly height: number;
  /** Level-0 pixels per pixel of this level, as OpenSlide reports it (1 for level 0). */
  readonly downsample: number;
}

/** A region to read: (x, y) is its top-left pixel in level-0 coordinates, width x height in level pixels. */
export interface RegionRequest {
  readonly x: number;
  readonly y: number;
  readonly level: number;
  readonly width: number;
  readonly height: number;
}

/** An open slide. Close it when done; reads after close throw. */
export interface Slide {
  /** The file as given to openSlide. */
  readonly path: string;
  /**
   * OpenSlide's name of the format ('aperio', 'generic-tiff', 'hamamatsu', 'mirax', 'philips',
   * 'ventana', ...), or 'image/tiff', 'image/png', 'image/jpeg' for a plain image read with sharp.
   */
  readonly vendor: string;
  /** Level 0 first (full resolution), then ever smaller levels. */
  readonly levels: readonly SlideLevel[];
  /** Microns per level-0 pixel, or undefined when the file does not say. */
  readonly mpp: { readonly x: number; readonly y: number } | undefined;
  /** The scanner's objective magnification (e.g. 40), or undefined when the file does not say. */
  readonly objectivePower: number | undefined;
  /** A metadata property by OpenSlide's name (e.g. 'aperio.AppMag'); undefined when absent or not an OpenSlide slide. */
  property(name: string): string | undefined;
  /**
   * Reads width x height pixels of `level`, starting at level-0 pixel (x, y). Parts outside the
   * slide (or transparent in it) come back white, as OpenSlide's Python binding flattens them.
   * Returns width * height * 3 bytes, RGB interleaved, row-major, in one allocation; the array
   * may be a view on a larger ArrayBuffer (use `.slice()` before handing `.buffer` on).
   */
  readRegion(region: RegionRequest): Promise<Uint8Array>;
  close(): void;
}

/** Largest region one readRegion call accepts (width * height), 256 Mpx: 1 GiB of OpenSlide's ARGB buffer. */
export const MAX_REGION_PIXELS = 1 << 28;

/** Throws a RangeError when a region request is malformed or its level is not one of the slide's. */
export function checkRegion(slide: Pick<Slide, 'path' | 'levels'>, r: RegionRequest): void {
  for (const k of ['x', 'y', 'level', 'width', 'height'] as const) {
    if (!Number.isSafeInteger(r[k])) throw new RangeError(`readRegion: ${k} must be an integer, got ${r[k]}`);
  }
  if (r.level < 0 || r.level >= slide.levels.length) {
    throw new RangeError(
      `readRegion: level ${r.level} does not exist in ${slide.path} (levels 0..${slide.levels.length - 1})`,
    );
  }
  if (r.width <= 0 || r.height <= 0) {
    throw new RangeError(`readRegion: width and height must be positive, got ${r.width}x${r.height}`);
  }
  if (r.width * r.height > MAX_REGION_PIXELS) {
    throw new RangeError(
      `readRegion: ${r.width}x${r.height} is more than ${MAX_REGION_PIXELS} pixels; read it in parts`,
    );
  }
}
