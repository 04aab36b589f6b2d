// IEEE 754 binary16 packing for shipped weights (halves the model files; round-to-nearest-even).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> binary16 bits, round to nearest even; overflow to +-Inf, NaN kept. */
export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the implicit-1 mantissa right, rounding to nearest even.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rem = mant & ((1 << shift) - 1);
      let m = mant >>> shift;
      if (rem > half || (rem === half && (m & 1) === 1)) m += 1;
      out[i] = sign | m;
      continue;
    }
    const rem = mant & 0x1fff;
    mant >>>= 13;
    if (rem > 0x1000 || (rem === 0x1000 && (mant & 1) === 1)) {
      mant += 1;
      if (mant === 0x400) {
        mant = 0;
        e += 1;
        if (e >= 0x1f) {
          out[i] = sign | 0x7c00;
          continue;
        }
      }
    }
    out[i] = sign | (e << 10) | mant;
  }
  return out;
}

/** binary16 bits -> float32 (exact). */
export function fromFloat16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    out[i] =
      e === 0
        ? sign * m * 2 ** -24
        : e === 0x1f
          ? m
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
