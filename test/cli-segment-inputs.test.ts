// How `segment` sorts its arguments into images (one piece) and whole slides (the slide workflow): by content,
// not by file name, for files given by name and for a folder's files alike.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesInFolder, sortInputs } from '../cli/segment-inputs.ts';
import { loadConfig } from '../src/config.ts';
import { InputError } from '../src/errors.ts';
import { isWholeSlide } from '../src/slide/index.ts';
import { EDGE_SLIDE, testSlide } from '../testing/test-slide.ts';

const dir = mkdtempSync(join(tmpdir(), 'nf-segment-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const monuseg = join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif');
const folder = join(dir, 'mixed');
const f = (name: string) => join(folder, name);

beforeAll(async () => {
  const s = await testSlide(EDGE_SLIDE);
  mkdirSync(folder);
  copyFileSync(s.svs40, f('a.svs'));
  copyFileSync(s.genericTiff, f('b.tif'));
  copyFileSync(monuseg, f('c.tif')); // a stripped TIFF: an image, not a slide
  await sharp(monuseg).extract({ left: 0, top: 0, width: 300, height: 300 }).png().toFile(f('d.png'));
  const svs = readFileSync(s.svs40);
  writeFileSync(f('e.svs'), svs.subarray(0, Math.floor(svs.length * 0.9))); // truncated
  writeFileSync(f('notes.txt'), 'not an input\n');
  copyFileSync(s.svs40, join(dir, 'slide.unknown-extension'));
}, 300_000);

describe('segment inputs', () => {
  it('isWholeSlide decides by content: tiled TIFF and SVS are slides whatever their name; PNG and stripped TIFF are not', async () => {
    expect(await isWholeSlide(f('a.svs'))).toBe(true);
    expect(await isWholeSlide(f('b.tif'))).toBe(true);
    expect(await isWholeSlide(join(dir, 'slide.unknown-extension'))).toBe(true);
    expect(await isWholeSlide(f('c.tif'))).toBe(false);
    expect(await isWholeSlide(f('d.png'))).toBe(false);
    await expect(isWholeSlide(f('e.svs'))).rejects.toThrow(/e\.svs: corrupt or truncated slide/);
  });

  it("a folder's plain TIFFs and PNGs are images, its slides slides, a broken slide goes to the workflow to report", async () => {
    expect(filesInFolder(folder).map((p) => p.slice(folder.length + 1))).toEqual([
      'a.svs',
      'b.tif',
      'c.tif',
      'd.png',
      'e.svs',
    ]);
    expect(await sortInputs([folder, join(dir, 'slide.unknown-extension')])).toEqual({
      images: [f('c.tif'), f('d.png')],
      slides: [f('a.svs'), f('b.tif'), f('e.svs'), join(dir, 'slide.unknown-extension')],
    });
  });

  it('a broken file given by name stops with its error; a folder with nothing to segment names itself', async () => {
    await expect(sortInputs([f('e.svs')])).rejects.toThrow(InputError);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), '');
    await expect(sortInputs([empty])).rejects.toThrow(`${empty}: no slide or image files in this folder`);
  });
});
