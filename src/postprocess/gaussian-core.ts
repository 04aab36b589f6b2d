// Row loops of the separable Gaussian blur (Mahbod et al. 2019 post-processing), driving the WebAssembly SIMD kernels of gaussian-kernel.wat.
import { WASM_BASE64 } from './gaussian-kernel.wasm.ts';

interface Kernel {
  readonly memory: WebAssembly.Memory;
  vrow(dst: number, offs: number, k: number, r: number, x0: number, x1: number): void;
  hrow(dst: number, line: number, k: number, r: number, x0: number, x1: number): void;
}

/** One instance per process (per worker thread); its memory grows to the largest image blurred so far and is reused. */
let kernel: Kernel | undefined;

/** The kernel module, compiled once per process (864 bytes: synchronous compilation is fine). */
function getKernel(): Kernel {
  if (!kernel) {
    const mod = new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    kernel = new WebAssembly.Instance(mod).exports as unknown as Kernel;
  }
  return kernel;
}

/** Byte layout of one blur in the kernel's memory; every region 16-byte aligned. */
function layout(w: number, h: number, r: number) {
  // Arithmetic, not bit operations: those wrap at 2^31 and would hide an oversized image.
  const align = (b: number) => Math.ceil(b / 16) * 16;
  const k = 0;
  const offs = align(k + 8 * (r + 1));
  const line = align(offs + 4 * (2 * r + 1));
  const src = align(line + 4 * (w + 2 * r));
  const tmp = align(src + 4 * w * h);
  const out = align(tmp + 4 * w * h);
  return { k, offs, line, src, tmp, out, end: out + 4 * w * h };
}

/** scipy.ndimage 'reflect' (half-sample symmetric: d c b a | a b c d | d c b a) index for any i. */
function reflectIndex(i: number, n: number): number {
  const p = 2 * n;
  let m = i % p;
  if (m < 0) m += p;
  return m < n ? m : p - 1 - m;
}

/**
 * Vertical then horizontal pass of the normalised kernel `k` (taps -r..r) over `src` (w x h,
 * reflect borders). Row y of the vertical pass is computed on the column runs `vRuns(y)`, row y of
 * the horizontal pass on `hRuns(y)` (pairs [start, end) in an Int32Array, count in pairs * 2);
 * every hRuns pixel's taps must lie in vRuns of its row. Fills `out`: the horizontal runs, 0
 * elsewhere. O(sum of run lengths * (r + 1)).
 */
export function separableBlur(
  src: Float32Array,
  w: number,
  h: number,
  k: Float64Array,
  out: Float32Array,
  vRuns: (y: number) => { runs: Int32Array; count: number },
  hRuns: (y: number) => { runs: Int32Array; count: number },
): void {
  const r = (k.length - 1) / 2;
  const kern = getKernel();
  const at = layout(w, h, r);
  // 32-bit WebAssembly memory: 12 bytes per pixel leaves room for about 350 million pixels.
  if (at.end > 4 * 2 ** 30 - 65536) {
    throw new RangeError(
      `gaussianBlur: a ${w}x${h} image needs ${at.end} bytes of kernel memory, more than 4 GiB; blur it in tiles`,
    );
  }
  const pages = Math.ceil(at.end / 65536) - kern.memory.buffer.byteLength / 65536;
  if (pages > 0) kern.memory.grow(pages);
  const buf = kern.memory.buffer;
  new Float64Array(buf, at.k, r + 1).set(k.subarray(r));
  const offs = new Int32Array(buf, at.offs, 2 * r + 1);
  const mem32 = new Float32Array(buf);
  mem32.set(src, at.src / 4);
  const rowIdx = new Int32Array(h + 2 * r);
  for (let i = 0; i < rowIdx.length; i++) rowIdx[i] = at.src + 4 * w * reflectIndex(i - r, h);

  const rowHasWork = new Uint8Array(h);
  for (let y = 0; y < h; y++) {
    const { runs, count } = vRuns(y);
    if (count === 0) continue;
    rowHasWork[y] = 1;
    offs[0] = rowIdx[y + r]!;
    for (let d = 1; d <= r; d++) {
      offs[d] = rowIdx[y + r - d]!;
      offs[r + d] = rowIdx[y + r + d]!;
    }
    const dst = at.tmp + 4 * w * y;
    for (let q = 0; q < count; q += 2) kern.vrow(dst, at.offs, at.k, r, runs[q]!, runs[q + 1]!);
  }

  // The reflected row copy: pixel x at line index x + r.
  const line0 = at.line / 4;
  const colIdx = new Int32Array(2 * r);
  for (let d = 0; d < r; d++) {
    colIdx[d] = reflectIndex(d - r, w);
    colIdx[r + d] = reflectIndex(w + d, w);
  }
  const outView = new Float32Array(buf, at.out, w * h);
  outView.fill(0);
  for (let y = 0; y < h; y++) {
    if (rowHasWork[y] === 0) continue;
    const { runs, count } = hRuns(y);
    if (count === 0) continue;
    const t = at.tmp / 4 + w * y;
    mem32.copyWithin(line0 + r, t, t + w);
    for (let d = 0; d < r; d++) {
      mem32[line0 + d] = mem32[t + colIdx[d]!]!;
      mem32[line0 + r + w + d] = mem32[t + colIdx[r + d]!]!;
    }
    const dst = at.out + 4 * w * y;
    for (let q = 0; q < count; q += 2) kern.hrow(dst, at.line, at.k, r, runs[q]!, runs[q + 1]!);
  }
  out.set(outView);
}
