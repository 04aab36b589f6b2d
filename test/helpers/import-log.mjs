// Preloaded with `node --import`: appends to the file named by IMPORT_LOG the URL of every module
// the process resolves through the ESM loader and, at exit, every file in the CommonJS cache
// (tfjs-node is loaded with require, which the ESM hooks do not see).
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.IMPORT_LOG;
if (log) {
  register('./import-log-hooks.mjs', import.meta.url, { data: { log } });
  const { cache } = createRequire(import.meta.url);
  process.on('exit', () => appendFileSync(log, Object.keys(cache).join('\n')));
}
