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
    throw writeError(path, err);
  }
}

/**
 * A failed write to `path` as an InputError naming the path and the problem when the file system refused it
 * (missing folder, permissions, a directory, a full disk); any other error comes back as it was.
 */
export function writeError(path: string, err: unknown): unknown {
  if (err instanceof InputError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return new InputError(path, 'cannot write: output folder does not exist', { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new InputError(path, 'cannot write: permission denied', { cause: err });
  if (code === 'EISDIR') return new InputError(path, 'cannot write: path is a directory', { cause: err });
  if (code === 'ENOSPC') return new InputError(path, 'cannot write: no space left on device', { cause: err });
  if (code === 'EROFS') return new InputError(path, 'cannot write: read-only file system', { cause: err });
  return err;
}
