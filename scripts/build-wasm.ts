// Compiles the WebAssembly text kernels (src/**/*.wat) into checked-in TypeScript modules holding the binary as base64.
//
// Why checked in: the library then needs no WebAssembly toolchain at run time, only at build time
// (the `wabt` dev dependency). test/wasm-build.test.ts rebuilds every kernel and fails when a
// checked-in module is stale. Usage: node --import tsx scripts/build-wasm.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/config.ts';
import { compileWat, WAT_KERNELS, wasmModuleSource } from './wasm-kernels.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
let stale = 0;
for (const rel of WAT_KERNELS) {
  const wat = join(REPO_ROOT, rel);
  const out = wat.replace(/\.wat$/, '.wasm.ts');
  const source = wasmModuleSource(basename(wat), await compileWat(wat, readFileSync(wat, 'utf8')));
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {
    // Not generated yet.
  }
  if (current === source) continue;
  if (values.check) {
    stale++;
    process.stderr.write(`${rel}: ${basename(out)} is stale; run node --import tsx scripts/build-wasm.ts\n`);
  } else {
    writeFileSync(out, source);
    process.stdout.write(`wrote ${out}\n`);
  }
}
process.exitCode = stale ? 1 : 0;
