// segment's sourceStain: one stain fit shared by many images (a slide's regions) instead of a fit per image.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { crop } from '../src/imaging/crop.ts';
import { readRgb } from '../src/imaging/io.ts';
import type { RgbImage } from '../src/imaging/types.ts';
import { loadSegmenter, type Segmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { applyStainModel, fitMacenko, type StainModel } from '../src/stain/macenko.ts';

let seg: Segmenter;
let target: StainModel;
let image: RgbImage;
beforeAll(async () => {
  seg = await loadSegmenter(SHIPPED_MODEL_DIR);
  target = seg.model.stainTarget!;
  image = await readRgb(join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'));
});
afterAll(() => seg?.dispose());

/** Degrees between two unit vectors. */
const angle = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  (Math.acos(Math.min(1, a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!)) * 180) / Math.PI;

describe('segment with sourceStain', () => {
  it('gives exactly the default output when sourceStain is the image own fit', async () => {
    expect(target).toBeTruthy();
    const img = crop(image, 0, 0, 256, 256);
    const byDefault = await seg.segment(img);
    const shared = await seg.segment(img, 'img', { sourceStain: fitMacenko(img) });
    // The default path is normalizeMacenko = fitMacenko then applyStainModel, so nothing differs.
    expect(shared.normalised.data).toEqual(byDefault.normalised.data);
    expect(shared.labels.data).toEqual(byDefault.labels.data);
    expect(shared.count).toBe(byDefault.count);
  });

  it('a mostly blank region gets a wrong fit of its own, and the slide fit renders it as the slide', async () => {
    // The "slide" is the whole MoNuSeg image; the region is white but for a 32 px strip of it (12.5% tissue).
    const slideFit = fitMacenko(image);
    const region: RgbImage = { width: 256, height: 256, data: new Uint8Array(256 * 256 * 3).fill(255) };
    for (let y = 0; y < 256; y++)
      region.data.set(
        image.data.subarray((y * image.width + 300) * 3, (y * image.width + 332) * 3),
        y * 256 * 3,
      );
    const own = fitMacenko(region);
    // Its 99th-percentile concentrations are taken over mostly white pixels, so they come out far too low.
    expect(own.maxConc[0]! / slideFit.maxConc[0]!).toBeLessThan(0.8);
    const slideNorm = applyStainModel(image, slideFit, target);
    const perRegion = await seg.segment(region, 'region');
    const shared = await seg.segment(region, 'region', { sourceStain: slideFit });
    let sameShared = true;
    let diffPerRegion = 0;
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 32 * 3; x++) {
        const s = slideNorm.data[(y * image.width + 300) * 3 + x]!;
        if (shared.normalised.data[y * 256 * 3 + x] !== s) sameShared = false;
        diffPerRegion = Math.max(diffPerRegion, Math.abs(perRegion.normalised.data[y * 256 * 3 + x]! - s));
      }
    // With the slide fit the strip's pixels are exactly what they are in the normalised slide.
    expect(sameShared).toBe(true);
    expect(diffPerRegion).toBeGreaterThan(20);
    // The slide fit itself is stable: a tissue-rich half of the slide fits about the same stains.
    const half = fitMacenko(crop(image, 0, 0, 1000, 500));
    expect(angle(half.stainMatrix, slideFit.stainMatrix)).toBeLessThan(5);
    expect(angle(half.stainMatrix.subarray(3), slideFit.stainMatrix.subarray(3))).toBeLessThan(5);
    expect(Math.abs(half.maxConc[0]! / slideFit.maxConc[0]! - 1)).toBeLessThan(0.1);
  });
});
