/**
 * The MoNuSeg data folder's manifest.csv (one row per slide) and the split of Kumar et al.
 * (IEEE TMI 2017) that Mahbod et al. (2019) train and test on.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { splitSlides } from './splits.ts';

export type KumarSplit = 'train' | 'test_same_organ' | 'test_diff_organ';
const SPLITS: readonly KumarSplit[] = ['train', 'test_same_organ', 'test_diff_organ'];

export interface Slide {
  /** TCGA slide id, e.g. TCGA-21-5784-01Z-00-DX1; also the file stem of image, label and XML. */
  readonly id: string;
  readonly organ: string;
  readonly tcgaProject: string;
  /** The split of Kumar et al. 2017, used by the paper. */
  readonly splitKumar: KumarSplit;
  /** The same-organ test list published with HoVer-Net; only for comparing with HoVer-Net's numbers. */
  readonly splitKumarHovernetReadme: KumarSplit;
  /** Absolute path of the RGB TIFF. */
  readonly imagePath: string;
  /** As recorded, e.g. 'LZW+predictor2'. */
  readonly imageTiffCompression: string;
  /** Absolute path of the Aperio XML, when it is available. */
  readonly annotationPath: string | undefined;
  readonly nRegionsXml: number | undefined;
  readonly micronsPerPixel: number | undefined;
  /** Absolute path of the 16-bit instance label PNG, when the slide has labels. */
  readonly labelPath: string | undefined;
  readonly nLabelInstances: number | undefined;
}

export interface KumarSplitSlides {
  /** 16 slides: 4 each of breast, kidney, liver, prostate. */
  readonly train: Slide[];
  /** 8 slides from the training organs (Kumar's "same organ" test set). */
  readonly testSeen: Slide[];
  /** 6 slides from organs never seen in training: bladder, colon, stomach. */
  readonly testUnseen: Slide[];
}

const COLUMNS = [
  'slide',
  'organ',
  'tcga_project',
  'split_kumar',
  'split_kumar_hovernet_readme',
  'image',
  'image_tiff_compression',
  'annotation_xml',
  'n_regions_xml',
  'microns_per_pixel_xml',
  'has_labels',
  'label_png',
  'n_label_instances',
] as const;
type Column = (typeof COLUMNS)[number];

/** Splits one CSV record (RFC 4180 quoting; no embedded newlines, which manifests never need). */
function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return undefined; // unterminated quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') return undefined;
      i++;
    } else {
      const j = line.indexOf(',', i);
      if (j < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, j));
      i = j + 1;
    }
  }
}

/**
 * Parses manifest.csv text. Paths in the file are relative to `dataDir` and come back absolute.
 * Throws InputError naming `file`, the line and the column for anything malformed.
 */
export function parseManifest(text: string, file: string, dataDir: string): Slide[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new InputError(file, 'empty manifest (no header line)');
  const header = splitCsvLine(lines[0]!.replace(/^\uFEFF/, ''));
  if (header === undefined) throw new InputError(file, 'line 1: malformed CSV header');
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new InputError(file, `header lacks column(s): ${missing.join(', ')}`);
  const index = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<Column, number>;
  const slides: Slide[] = [];
  const seen = new Set<string>();
  for (let ln = 1; ln < lines.length; ln++) {
    const lineNo = ln + 1;
    const fields = splitCsvLine(lines[ln]!);
    if (fields === undefined) throw new InputError(file, `line ${lineNo}: malformed CSV (unbalanced quotes)`);
    if (fields.length !== header.length) {
      throw new InputError(file, `line ${lineNo}: ${fields.length} fields, header has ${header.length}`);
    }
    const get = (c: Column) => fields[index[c]]!.trim();
    const bad = (c: Column, why: string): never => {
      throw new InputError(file, `line ${lineNo}, column ${c}: ${why} (got '${get(c)}')`);
    };
    const split = (c: Column): KumarSplit =>
      (SPLITS as readonly string[]).includes(get(c))
        ? (get(c) as KumarSplit)
        : bad(c, `must be one of ${SPLITS.join(', ')}`);
    const path = (c: Column, required: boolean): string | undefined => {
      const v = get(c);
      if (v === '') return required ? bad(c, 'required') : undefined;
      return isAbsolute(v) ? v : resolve(join(dataDir, v));
    };
    const count = (c: Column): number | undefined => {
      const v = get(c);
      if (v === '') return undefined;
      return /^\d+$/.test(v) ? Number(v) : bad(c, 'must be a non-negative integer');
    };
    const id = get('slide');
    if (id === '') bad('slide', 'required');
    if (seen.has(id)) bad('slide', 'duplicate slide id');
    seen.add(id);
    const hasLabels = get('has_labels');
    if (hasLabels !== 'yes' && hasLabels !== 'no') bad('has_labels', "must be 'yes' or 'no'");
    const mppText = get('microns_per_pixel_xml');
    const mpp = mppText === '' ? undefined : Number(mppText);
    if (mpp !== undefined && !(Number.isFinite(mpp) && mpp > 0))
      bad('microns_per_pixel_xml', 'must be a positive number');
    const labelPath = path('label_png', hasLabels === 'yes');
    slides.push({
      id,
      organ: get('organ') || bad('organ', 'required'),
      tcgaProject: get('tcga_project'),
      splitKumar: split('split_kumar'),
      splitKumarHovernetReadme: split('split_kumar_hovernet_readme'),
      imagePath: path('image', true)!,
      imageTiffCompression: get('image_tiff_compression'),
      annotationPath: path('annotation_xml', false),
      nRegionsXml: count('n_regions_xml'),
      micronsPerPixel: mpp,
      labelPath: hasLabels === 'yes' ? labelPath : undefined,
      nLabelInstances: count('n_label_instances'),
    });
  }
  if (slides.length === 0) throw new InputError(file, 'manifest has a header but no slides');
  return slides;
}

/** Reads `<dataDir>/manifest.csv`. A missing file is an InputError that names it. */
export async function readManifest(dataDir: string): Promise<Slide[]> {
  const file = join(dataDir, 'manifest.csv');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      file,
      code === 'ENOENT'
        ? 'manifest not found (is NUCLEIFLOW_DATA the MoNuSeg folder with images/, labels/, manifest.csv?)'
        : `cannot read: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return parseManifest(text, file, dataDir);
}

/** The Kumar et al. split of the slides in `dataDir`, in manifest order (16 / 8 / 6 on MoNuSeg). */
export async function kumarSplit(dataDir: string): Promise<KumarSplitSlides> {
  const k = splitSlides(await readManifest(dataDir), 'kumar');
  return { train: k.train, testSeen: k.seen, testUnseen: k.unseen };
}
