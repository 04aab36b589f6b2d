/**
 * Writes a report's files into a folder so that nothing half-written is ever seen: every file is
 * first written into a fresh temporary folder beside `dir`; a new `dir` is that folder renamed,
 * an existing one receives each file by rename (atomic per file; files of `dir` the report does
 * not write are left alone). On failure the temporary folder is removed and `dir` keeps its old
 * contents. A file name may hold one folder (`results/plot.svg`), created as needed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import type { ReportFile } from './markdown.ts';

/** `name` or `folder/name`, no part empty or starting with a dot. */
const SAFE_NAME = /^(?:[^./][^/]*\/)?[^./][^/]*$/;

export async function writeReportDir(dir: string, files: readonly ReportFile[]): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const existing = await stat(target).catch(() => null);
  if (existing && !existing.isDirectory()) throw new InputError(dir, 'cannot write the report: not a folder');
  await mkdir(parent, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(dir, `cannot create the parent folder (${err.code ?? err.message})`, { cause: err });
  });
  let tmp: string;
  try {
    tmp = await mkdtemp(join(parent, `.${basename(target)}.${randomBytes(3).toString('hex')}-`));
  } catch (err) {
    throw new InputError(dir, `cannot write here (${(err as NodeJS.ErrnoException).code ?? err})`, {
      cause: err,
    });
  }
  try {
    for (const f of files) {
      if (!SAFE_NAME.test(f.name)) throw new RangeError(`report file name ${f.name}`);
      await mkdir(dirname(join(tmp, f.name)), { recursive: true });
      await writeFile(join(tmp, f.name), f.content);
    }
    if (!existing) {
      await rename(tmp, target);
      return;
    }
    for (const f of files) {
      await mkdir(dirname(join(target, f.name)), { recursive: true });
      await rename(join(tmp, f.name), join(target, f.name));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
