import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSize } from '../cli/commands/labels.ts';
import { loadConfig } from '../src/config.ts';
import { annotationXmlToLabels, parseAnnotationXml } from '../src/data/annotations.ts';
import { readManifest, type Slide } from '../src/data/manifest.ts';
import { InputError } from '../src/errors.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { BIN } from './helpers/cli.ts';

const dataDir = loadConfig().dataDir;
const dir = mkdtempSync(join(tmpdir(), 'nf-bad-'));
let slide: Slide;
let tif: Buffer;
let png: Buffer;
let xml: string;
beforeAll(async () => {
  slide = (await readManifest(dataDir)).find((s) => s.id.includes('B0-5710'))!;
  tif = readFileSync(slide.imagePath);
  png = readFileSync(slide.labelPath!);
  xml = readFileSync(slide.annotationPath!, 'utf8');
});

function file(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** Expects an InputError whose message starts with the file path and matches `problem`. */
async function rejectsNaming(p: Promise<unknown>, path: string, problem: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.file).toBe(path);
  expect(e.message.startsWith(`${path}: `)).toBe(true);
  expect(e.message).toMatch(problem);
  expect(e.message).not.toContain('\n');
}

describe('bad image files', () => {
  it('missing, empty, directory and non-image files', async () => {
    const missing = join(dir, 'missing.tif');
    await rejectsNaming(readRgb(missing), missing, /file not found/);
    await rejectsNaming(readLabels(missing), missing, /file not found/);
    const empty = file('empty.tif', '');
    await rejectsNaming(readRgb(empty), empty, /empty file/);
    const sub = join(dir, 'a-folder.png');
    mkdirSync(sub);
    await rejectsNaming(readRgb(sub), sub, /is a directory/);
    const text = file('notes.tif', 'this is not an image');
    await rejectsNaming(readRgb(text), text, /not a TIFF, PNG or JPEG image/);
  });

  it('truncated and corrupted TIFFs', async () => {
    const half = file('half.tif', tif.subarray(0, tif.length >> 1));
    await rejectsNaming(
      readRgb(half),
      half,
      /corrupt or truncated TIFF: cannot read its header or image directory/,
    );
    const head = file('head.tif', tif.subarray(0, 64));
    await rejectsNaming(readRgb(head), head, /corrupt or truncated TIFF/);
    const garbled = Buffer.from(tif);
    for (let i = 20_000; i < garbled.length - 20_000; i += 7) garbled[i]! ^= 0x5a;
    const g = file('garbled.tif', garbled);
    await rejectsNaming(readRgb(g), g, /corrupt or truncated TIFF/);
    // Directory intact, strip data cut short: written with the directory first.
    const rgb = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 31) & 255);
    const whole = await sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
      .tiff({ compression: 'none' })
      .toBuffer();
    const cut = file('cut-strips.tif', whole.subarray(0, whole.length - 2000));
    await expect(readRgb(cut)).rejects.toThrow(/cut-strips\.tif: corrupt or truncated TIFF/);
  });

  it('truncated and corrupted PNGs and JPEGs', async () => {
    const half = file('half.png', png.subarray(0, png.length >> 1));
    await rejectsNaming(readLabels(half), half, /corrupt or truncated PNG/);
    await rejectsNaming(readRgb(half), half, /corrupt or truncated PNG/);
    const flipped = Buffer.from(png);
    flipped[flipped.length >> 1]! ^= 0xff;
    const crc = file('crc.png', flipped);
    await rejectsNaming(readLabels(crc), crc, /corrupt or truncated PNG/);
    const jpg = await sharp(new Uint8Array(64 * 64 * 3).fill(90), {
      raw: { width: 64, height: 64, channels: 3 },
    })
      .jpeg()
      .toBuffer();
    const tj = file('half.jpg', jpg.subarray(0, jpg.length >> 1));
    await rejectsNaming(readRgb(tj), tj, /corrupt or truncated JPEG/);
  });

  it('a JPEG or TIFF given as a label map is refused', async () => {
    const p = file('labels.jpg', await sharp(png).jpeg().toBuffer());
    await rejectsNaming(readLabels(p), p, /label map must be a grayscale PNG or TIFF, got JPEG/);
    const t = file('rgb-labels.tif', tif);
    await rejectsNaming(readLabels(t), t, /label map must be single-channel grayscale.*3-channel RGB/);
  });
});

describe('bad annotation XML', () => {
  const size = { width: 1000, height: 1000 };
  it('truncated, mismatched, unquoted and junk XML name the line', async () => {
    const trunc = file('trunc.xml', xml.slice(0, xml.length >> 1));
    await rejectsNaming(
      annotationXmlToLabels(trunc, size),
      trunc,
      /malformed XML: line \d+, column \d+: unexpected end of file/,
    );
    // Wherever the file is cut, the error says so.
    for (let cut = 1; cut < 3000; cut += 3) {
      expect(() => parseAnnotationXml(xml.slice(0, cut), 'cut.xml')).toThrow(
        /^cut\.xml: malformed XML: line \d+, column \d+: unexpected end of file/,
      );
    }
    expect(() => parseAnnotationXml('<Annotations><Annotation></Annotations>', 'x.xml')).toThrow(
      /x\.xml: malformed XML: line 1, column 26: end tag <\/Annotations> does not match <Annotation>/,
    );
    expect(() => parseAnnotationXml('<Annotations>\n<Vertex X=1 Y="2"/></Annotations>', 'x.xml')).toThrow(
      /line 2, column 11: attribute X in <Vertex: value must be quoted/,
    );
    expect(() => parseAnnotationXml('<Annotations/><Annotations/>', 'x.xml')).toThrow(
      /a second root element/,
    );
    expect(() => parseAnnotationXml('not xml at all', 'x.xml')).toThrow(/text before the root element/);
    expect(() => parseAnnotationXml('<A x="1" x="2"/>', 'x.xml')).toThrow(/duplicate attribute x/);
    expect(() => parseAnnotationXml('<Annotations>&bogus;</Annotations>', 'x.xml')).toThrow(
      /unknown entity '&bogus;'/,
    );
  });

  it('wrong root, zero regions and non-numeric vertices', () => {
    expect(() => parseAnnotationXml('<svg/>', 'x.xml')).toThrow(
      /not an Aperio annotation file \(root element <svg>/,
    );
    const headersOnly =
      '<Annotations><Annotation><Regions><RegionAttributeHeaders><AttributeHeader Id="1"/></RegionAttributeHeaders></Regions></Annotation></Annotations>';
    expect(() => parseAnnotationXml(headersOnly, 'x.xml')).toThrow(
      /x\.xml: no annotated regions \(zero <Region> elements\)/,
    );
    const bad =
      '<Annotations><Annotation><Regions><Region Id="7"><Vertices><Vertex X="1" Y="2"/><Vertex X="abc" Y="3"/></Vertices></Region></Regions></Annotation></Annotations>';
    expect(() => parseAnnotationXml(bad, 'x.xml')).toThrow(
      /x\.xml: region 1 \(Id 7\), vertex 2: X and Y must be numbers, got X="abc" Y="3"/,
    );
  });

  it('an annotation that does not fit the image size is refused', async () => {
    await rejectsNaming(
      annotationXmlToLabels(slide.annotationPath!, { width: 512, height: 512 }),
      slide.annotationPath!,
      /annotation does not fit a 512x512 image: vertices span x .* \(more than 10 px outside\)/,
    );
  });
});

describe('nucleiflow labels with bad input', () => {
  it('--size must be WIDTHxHEIGHT', () => {
    expect(parseSize('640x480')).toEqual({ width: 640, height: 480 });
    for (const bad of ['big', '0x10', '10x', '-5x5', '1.5x2', '70000x10']) {
      expect(() => parseSize(bad)).toThrow(/Expected WIDTHxHEIGHT with each 1\.\.65535/);
    }
  });

  /** Runs the CLI as a user would; the cases run side by side to keep the file fast. */
  const cli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [BIN, 'labels', ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
      });
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  it('prints one line, exits non-zero and leaves no output file', async () => {
    const outDir = mkdtempSync(join(dir, 'cli-'));
    const out = join(outDir, 'labels.png');
    const trunc = file('cli-trunc.xml', xml.slice(0, 5000));
    const badTif = file('cli-half.tif', tif.subarray(0, tif.length >> 1));
    const cases: [string[], RegExp][] = [
      [[trunc, '--out', out], /cli-trunc\.xml: malformed XML: line \d+, column \d+: unexpected end of file/],
      [[slide.annotationPath!, '--out', out, '--image', badTif], /cli-half\.tif: corrupt or truncated TIFF/],
      [
        [slide.annotationPath!, '--out', join(outDir, 'missing-dir', 'x.png')],
        /output folder does not exist/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, k) => {
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(cases[k]![1]);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.startsWith('nucleiflow: ')).toBe(true);
    });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(outDir)).toEqual([]);
  });
});
