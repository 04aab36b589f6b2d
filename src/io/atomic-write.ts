import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

/**
 * Writes `data` to `path` so that readers never see a partial file: the bytes go to a temporary
 * file in the same folder (same file system, so rename is atomic), are flushed, then renamed over
 * `path`. On any error the temporary file is removed and `path` is left as it was.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new InputError(path, 'cannot write: output folder does not exist', { cause: err });
    if (code === 'EACCES' || code === 'EPERM')
      throw new InputError(path, 'cannot write: permission denied', { cause: err });
    if (code === 'EISDIR') throw new InputError(path, 'cannot write: path is a directory', { cause: err });
    throw err;
  }
}
