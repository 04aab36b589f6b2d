import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { annotationXmlToLabels, parseAnnotationXml, rasteriseAnnotations } from '../src/data/annotations.ts';
import { readManifest, type Slide } from '../src/data/manifest.ts';
import { poly2mask } from '../src/data/poly2mask.ts';
import { readLabels } from '../src/imaging/io.ts';
import { runCli } from './helpers/cli.ts';

const dataDir = loadConfig().dataDir;
const dir = mkdtempSync(join(tmpdir(), 'nf-ann-'));
let annotated: Slide[];
beforeAll(async () => {
  annotated = (await readManifest(dataDir)).filter((s) => s.annotationPath !== undefined);
});

/** Mask as rows of '#'/'.' for readable expectations. */
function show(m: { width: number; height: number; data: ArrayLike<number> }): string[] {
  const rows: string[] = [];
  for (let y = 0; y < m.height; y++) {
    let r = '';
    for (let x = 0; x < m.width; x++) r += m.data[y * m.width + x] ? '#' : '.';
    rows.push(r);
  }
  return rows;
}

describe('poly2mask (MATLAB semantics)', () => {
  it('a square on pixel borders (1-based: 0.5..3.5) covers exactly pixels 1..3', () => {
    const m = poly2mask([0.5, 3.5, 3.5, 0.5], [0.5, 0.5, 3.5, 3.5], 5, 5);
    expect(show(m)).toEqual(['###..', '###..', '###..', '.....', '.....']);
  });

  it('uses 1-based coordinates: a vertex at (1, 1) is the centre of the top-left pixel', () => {
    // Diamond around pixel centre (3, 3) (1-based), radius 1.2: the plus-shaped 5 pixels.
    const m = poly2mask([3, 4.2, 3, 1.8], [1.8, 3, 4.2, 3], 5, 5);
    expect(show(m)).toEqual(['.....', '..#..', '.###.', '..#..', '.....']);
  });

  it('does not depend on vertex order or starting vertex', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let t = 0; t < 50; t++) {
      const n = 3 + Math.floor(rnd() * 8);
      const xs = Array.from({ length: n }, () => -2 + rnd() * 24);
      const ys = Array.from({ length: n }, () => -2 + rnd() * 24);
      const a = poly2mask(xs, ys, 20, 20);
      const k = 1 + Math.floor(rnd() * (n - 1));
      const rot = (v: number[]) => [...v.slice(k), ...v.slice(0, k)];
      expect(poly2mask([...xs].reverse(), [...ys].reverse(), 20, 20).data).toEqual(a.data);
      expect(poly2mask(rot(xs), rot(ys), 20, 20).data).toEqual(a.data);
    }
  });

  it('clips polygons that leave the image (left, top, right and bottom)', () => {
    const m = poly2mask([-5.5, 2.5, 2.5, -5.5], [-5.5, -5.5, 2.5, 2.5], 4, 4);
    expect(show(m)).toEqual(['##..', '##..', '....', '....']);
    const b = poly2mask([2.5, 9, 9, 2.5], [2.5, 2.5, 9, 9], 4, 4);
    expect(show(b)).toEqual(['....', '....', '..##', '..##']);
  });

  it('gives nothing for degenerate polygons (2 vertices, a point)', () => {
    expect(poly2mask([1, 4], [1, 4], 5, 5).data.every((v) => v === 0)).toBe(true);
    expect(poly2mask([2, 2, 2], [2, 2, 2], 5, 5).data.every((v) => v === 0)).toBe(true);
  });
});

describe('Aperio XML to labels', () => {
  it('reproduces labels/ pixel for pixel, ids included, on all 13 XMLs', async () => {
    expect(annotated.length).toBe(13);
    let nuclei = 0;
    let skipped = 0;
    for (const s of annotated) {
      const r = await annotationXmlToLabels(s.annotationPath!, { width: 1000, height: 1000 });
      const gt = await readLabels(s.labelPath!);
      let diff = 0;
      for (let i = 0; i < gt.data.length; i++) if (r.labels.data[i] !== gt.data[i]) diff++;
      expect({ slide: s.id, diff, nRegions: r.nRegions, nInstances: r.nInstances }).toEqual({
        slide: s.id,
        diff: 0,
        nRegions: s.nRegionsXml,
        nInstances: s.nLabelInstances,
      });
      nuclei += r.nInstances;
      skipped += r.skipped;
    }
    expect(nuclei).toBe(4948);
    expect(skipped).toBe(2);
  });

  it('reads the same polygons as a general-purpose XML parser', () => {
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (n) => ['Annotation', 'Region', 'Vertex'].includes(n),
    });
    type V = { X: string; Y: string };
    type R = { Id: string; Vertices: { Vertex?: V[] } };
    type Doc = { Annotations: { Annotation: { Regions: { Region?: R[] } }[] } };
    for (const s of annotated.filter((a) => /B0-5710|CH-5767/.test(a.id))) {
      const text = readFileSync(s.annotationPath!, 'utf8');
      const ours = parseAnnotationXml(text, s.annotationPath!);
      const ref = (parser.parse(text) as Doc).Annotations.Annotation.flatMap((a) => a.Regions.Region ?? []);
      expect(ours.polygons.length).toBe(ref.length);
      ref.forEach((r, k) => {
        const p = ours.polygons[k]!;
        const vs = r.Vertices.Vertex ?? [];
        expect(p.regionId).toBe(r.Id);
        expect(Array.from(p.xs)).toEqual(vs.map((v) => Number(v.X)));
        expect(Array.from(p.ys)).toEqual(vs.map((v) => Number(v.Y)));
      });
      expect(ours.micronsPerPixel).toBe(s.micronsPerPixel);
    }
  });

  it('ignores RegionAttributeHeaders, skips < 3 vertices, first region wins, ids stay contiguous', () => {
    const region = (id: number, pts: number[]) => {
      let v = '';
      for (let k = 0; k < pts.length; k += 2) v += `<Vertex X="${pts[k]}" Y="${pts[k + 1]}" Z="0"/>`;
      return `<Region Id="${id}"><Attributes/><Vertices>${v}</Vertices></Region>`;
    };
    // 10: pixels 1..3 square; 11: two vertices (skipped); 12: inside 10 (drawn, no pixel left);
    // 13: overlaps 10 at pixel (3, 3), which stays 10's.
    const xml = `<?xml version="1.0"?>
<Annotations MicronsPerPixel="0.25"><Annotation Id="1"><Regions>
<RegionAttributeHeaders><AttributeHeader Id="9999" Name="Region"/></RegionAttributeHeaders>
${region(10, [0.5, 0.5, 3.5, 0.5, 3.5, 3.5, 0.5, 3.5])}
${region(11, [5, 5, 6, 6])}
${region(12, [1.5, 1.5, 2.5, 1.5, 2.5, 2.5])}
${region(13, [2.5, 2.5, 6.5, 2.5, 6.5, 6.5, 2.5, 6.5])}
</Regions></Annotation></Annotations>`;
    const ann = parseAnnotationXml(xml, 'synthetic.xml');
    expect(ann.polygons.map((p) => p.regionId)).toEqual(['10', '11', '12', '13']);
    expect(ann.micronsPerPixel).toBe(0.25);
    const r = rasteriseAnnotations(ann, { width: 6, height: 6 }, 'synthetic.xml');
    expect([r.nRegions, r.skipped, r.empty, r.nInstances]).toEqual([4, 1, 1, 2]);
    const rows: string[] = [];
    for (let y = 0; y < 6; y++) rows.push(Array.from(r.labels.data.subarray(y * 6, y * 6 + 6)).join(''));
    expect(rows).toEqual(['111000', '111000', '111222', '002222', '002222', '002222']);
  });

  it('nucleiflow labels writes the same map as labels/ and reports the counts', async () => {
    const s = annotated.find((a) => a.id.includes('50-5931'))!;
    const out = join(dir, 'cli.png');
    const r = runCli(['labels', s.annotationPath!, '--out', out, '--image', s.imagePath], {
      timeoutMs: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('444 nuclei, 1000x1000 (445 regions, 1 skipped (< 3 vertices))');
    const [a, b] = await Promise.all([readLabels(out), readLabels(s.labelPath!)]);
    expect(a.data).toEqual(b.data);
  });
});
