// sfc32 (Chris Doty-Humphrey, PractRand "small fast chaotic" generator), seeded through splitmix32.
// The whole state is four uint32 words, so a trainer can checkpoint it and resume the exact stream.

/** A seeded pseudo-random stream. Not for cryptography. */
export interface Rng {
  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n); n must be a positive integer below 2^32. */
  int(n: number): number;
  /** A copy of the four uint32 state words; `restoreRng(state)` continues from exactly here. */
  state(): number[];
}

const TWO_POW_32 = 4294967296;

class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
  }

  private nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`rng.int: n must be a positive integer <= 2^32, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  state(): number[] {
    return [this.a, this.b, this.c, this.d];
  }
}

/** splitmix32 step: spreads a 32-bit seed over the state words (sfc32 must not start all-zero). */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [x, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A new stream from an integer seed (any safe integer; the low and high 32 bits both count).
 * Twelve outputs are discarded so that nearby seeds give unrelated streams.
 */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`createRng: seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  let s = lo ^ Math.imul(hi, 0x27d4eb2d);
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitmix32(s);
    s = next;
    words.push(out);
  }
  const rng = new Sfc32(words[0], words[1], words[2], words[3]);
  for (let i = 0; i < 12; i++) rng.next();
  return rng;
}

/** Continues a stream from `rng.state()`; throws a RangeError naming the bad word otherwise. */
export function restoreRng(state: readonly number[]): Rng {
  if (!Array.isArray(state) || state.length !== 4) {
    throw new RangeError(`restoreRng: state must be 4 uint32 words, got ${JSON.stringify(state)}`);
  }
  state.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
      throw new RangeError(`restoreRng: state[${i}] = ${w} is not a uint32`);
    }
  });
  return new Sfc32(state[0], state[1], state[2], state[3]);
}
