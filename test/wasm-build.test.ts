import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWat, WAT_KERNELS, wasmModuleSource } from '../scripts/wasm-kernels.ts';
import { REPO_ROOT } from '../src/config.ts';

describe('checked-in WebAssembly kernels', () => {
  it.each(WAT_KERNELS)(
    '%s matches its generated module (run scripts/build-wasm.ts after editing)',
    async (rel) => {
      const wat = join(REPO_ROOT, rel);
      const expected = wasmModuleSource(basename(wat), await compileWat(wat, readFileSync(wat, 'utf8')));
      expect(readFileSync(wat.replace(/\.wat$/, '.wasm.ts'), 'utf8')).toBe(expected);
    },
  );
});
