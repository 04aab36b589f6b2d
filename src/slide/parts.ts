// The per-region results of one slide's segmentation, on disk, so that a restart never recomputes a
// region whose result was recorded. Layout: `<dir>/plan.json` (what the parts belong to: the slide's
// identity, the model version and the region grid) and one `<dir>/<region id>.json` per finished
// region, each written atomically (a reader sees a whole part or none). With several workers on
// several hosts the folder must be on storage they share.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';

/**
 * The layout of the region files; raised when a part's content changes (2: nuclei carry pixel-edge `polygons`
 * instead of pixel-centre rings), so a folder written by an older version is refused instead of merged.
 */
export const PARTS_FORMAT = 2;

/** What a parts folder belongs to; a folder made for another slide, model or grid is refused. */
export interface PartsKey {
  /** The slide file, as given (for messages). */
  readonly slide: string;
  /** slideIdentity(...).hash */
  readonly identity: string;
  /** The model version that segments the regions, e.g. `cpu-60min-c256@1` or a folder's seg sha256. */
  readonly model: string;
  readonly core: number;
  readonly margin: number;
  readonly scale: number;
}

export interface RegionPart<T> {
  readonly region: string;
  readonly nuclei: readonly T[];
  /** Owned instances flagged cut, instances left to other regions. */
  readonly cut: number;
  readonly notOwned: number;
  /** Wall milliseconds of this region's read, nets and post-processing. */
  readonly ms: number;
}

const REGION_FILE = /^r\d+c\d+\.json$/;

export class PartsStore<T> {
  private constructor(
    readonly dir: string,
    readonly key: PartsKey,
  ) {}

  /**
   * Opens (creating when absent) the parts folder `dir` for `key`. A folder recorded for another
   * slide identity, model or grid is refused naming what differs, unless `restart`, which empties it.
   */
  static async open<T>(dir: string, key: PartsKey, opts: { restart?: boolean } = {}): Promise<PartsStore<T>> {
    const planFile = join(dir, 'plan.json');
    let recorded: (PartsKey & { format?: number }) | undefined;
    try {
      recorded = JSON.parse(readFileSync(planFile, 'utf8')) as PartsKey & { format?: number };
    } catch (err) {
      // ENOTDIR: a parent is a regular file; the folder does not exist, and mkdir below says why it cannot.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        if (!opts.restart)
          throw new InputError(
            planFile,
            `unreadable (${(err as Error).message}); remove the folder or pass --force`,
          );
      }
    }
    if (recorded && !opts.restart) {
      if ((recorded.format ?? 1) !== PARTS_FORMAT) {
        throw new InputError(
          key.slide,
          `the region parts in ${dir} are in format ${recorded.format ?? 1}, this version reads format ${PARTS_FORMAT}; pass --force to segment the slide again`,
        );
      }
      const diff = keyDifference(recorded, key);
      if (diff) {
        throw new InputError(
          key.slide,
          `${diff} since its segmentation in ${dir} started; pass --force to start over, or restore the original`,
        );
      }
    }
    if (opts.restart) rmSync(dir, { recursive: true, force: true });
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new InputError(dir, `cannot create the parts folder: ${(err as Error).message}`, { cause: err });
    }
    if (!recorded || opts.restart) {
      await writeFileAtomic(planFile, `${JSON.stringify({ ...key, format: PARTS_FORMAT }, null, 2)}\n`);
    }
    return new PartsStore<T>(dir, key);
  }

  /** Ids of the regions whose part is on disk. */
  done(): Set<string> {
    const out = new Set<string>();
    for (const f of readdirSync(this.dir)) if (REGION_FILE.test(f)) out.add(f.slice(0, -5));
    return out;
  }

  async write(part: RegionPart<T>): Promise<void> {
    await writeFileAtomic(join(this.dir, `${part.region}.json`), JSON.stringify(part));
  }

  read(region: string): RegionPart<T> {
    const file = join(this.dir, `${region}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as RegionPart<T>;
    } catch (err) {
      throw new InputError(file, `cannot read this region's result: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The first field in which `b` differs from `a`, phrased for an error message; undefined if none. */
function keyDifference(a: PartsKey, b: PartsKey): string | undefined {
  if (a.identity !== b.identity)
    return `the file changed (identity ${a.identity.slice(0, 12)} -> ${b.identity.slice(0, 12)})`;
  if (a.model !== b.model) return `the model changed (${a.model} -> ${b.model})`;
  if (a.core !== b.core || a.margin !== b.margin || a.scale !== b.scale) {
    return `the region grid changed (core ${a.core}, margin ${a.margin}, scale ${a.scale} -> ${b.core}, ${b.margin}, ${b.scale})`;
  }
  return undefined;
}
