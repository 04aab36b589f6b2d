// Priority-flood hot loop of the marker-controlled watershed (Mahbod et al. 2019, stage-2 seeds flooded over the distance map).

/** Ages below 2^21 fit beside a 32-bit value key in one float64 (2^53). */
const AGE_SPAN = 2097152;

/**
 * Floods `labels` (in: marker ids, 0 elsewhere; out: the basins) over `image` in place.
 *
 * A pixel takes the label of the neighbour that first reaches it and is labelled when pushed
 * (as skimage's heap watershed does); the queue pops the lowest image value first and, among
 * equal values, the oldest push (FIFO = skimage's age order). Markers enter in raster order with
 * ages 0..m-1. Neighbours are 8-connected, visited in skimage's order (N, W, E, S, NW, NE, SW,
 * SE). Pixels with mask 0 are never labelled.
 *
 * Binary heap on typed arrays sized once for every pixel that can enter it: O(p log q) for p
 * flooded pixels and a frontier of q. Up to 2^21 queued pixels (any 1000x1000 image) the
 * (value, age) priority is packed into one exact float64 key (order-preserving 32-bit code of the
 * float32 value, times 2^21, plus the age), so a comparison is one float compare; larger inputs
 * use a (value, age) pair of arrays with the same order.
 */
export function floodFill(
  image: Float32Array,
  width: number,
  height: number,
  labels: Int32Array,
  mask: Uint8Array,
): void {
  const n = width * height;
  let cap = 0;
  for (let i = 0; i < n; i++) if (mask[i] !== 0 || labels[i] !== 0) cap++;
  if (cap < AGE_SPAN) floodPacked(image, width, height, labels, mask, cap);
  else floodPair(image, width, height, labels, mask, cap);
}

function floodPacked(
  image: Float32Array,
  width: number,
  height: number,
  labels: Int32Array,
  mask: Uint8Array,
  cap: number,
): void {
  const n = width * height;
  const hk = new Float64Array(cap);
  const hp = new Int32Array(cap);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const w = width;
  const dOff = new Int32Array([-w, -1, 1, w, -w - 1, -w + 1, w - 1, w + 1]);
  const dx = new Int32Array([0, -1, 1, 0, -1, 1, -1, 1]);
  const dy = new Int32Array([-1, 0, 0, 1, -1, -1, 1, 1]);
  // Locals only (no closures), so the heap state stays in registers.
  let size = 0;
  let age = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 0) continue;
    f32[0] = image[i]! + 0; // + 0 turns -0 into +0, which compare equal as floats
    const b = u32[0]!;
    // Negative floats: flip all bits; positive: set the sign bit. Unsigned order = float order.
    const key = (b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0) * AGE_SPAN + age++;
    let k = size++;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      const pk = hk[parent]!;
      if (pk < key) break;
      hk[k] = pk;
      hp[k] = hp[parent]!;
      k = parent;
    }
    hk[k] = key;
    hp[k] = i;
  }
  const lastX = width - 1;
  const lastY = height - 1;
  while (size > 0) {
    const pix = hp[0]!;
    size--;
    if (size > 0) {
      const key = hk[size]!;
      const p = hp[size]!;
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= size) break;
        if (c + 1 < size && hk[c + 1]! < hk[c]!) c++;
        const ck = hk[c]!;
        if (key < ck) break;
        hk[k] = ck;
        hp[k] = hp[c]!;
        k = c;
      }
      hk[k] = key;
      hp[k] = p;
    }
    const lab = labels[pix]!;
    const y = (pix / w) | 0;
    const x = pix - y * w;
    const interior = x > 0 && x < lastX && y > 0 && y < lastY;
    for (let d = 0; d < 8; d++) {
      if (!interior) {
        const xx = x + dx[d]!;
        const yy = y + dy[d]!;
        if (xx < 0 || xx > lastX || yy < 0 || yy > lastY) continue;
      }
      const q = pix + dOff[d]!;
      if (mask[q] === 0 || labels[q] !== 0) continue;
      labels[q] = lab;
      f32[0] = image[q]! + 0;
      const b = u32[0]!;
      const key = (b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0) * AGE_SPAN + age++;
      let k = size++;
      while (k > 0) {
        const parent = (k - 1) >> 1;
        const pk = hk[parent]!;
        if (pk < key) break;
        hk[k] = pk;
        hp[k] = hp[parent]!;
        k = parent;
      }
      hk[k] = key;
      hp[k] = q;
    }
  }
}

function floodPair(
  image: Float32Array,
  width: number,
  height: number,
  labels: Int32Array,
  mask: Uint8Array,
  cap: number,
): void {
  const n = width * height;
  const hv = new Float64Array(cap);
  const ha = new Int32Array(cap);
  const hp = new Int32Array(cap);
  // Neighbour offsets in skimage's order; a pixel on the image edge skips those leaving the image.
  const w = width;
  const dOff = new Int32Array([-w, -1, 1, w, -w - 1, -w + 1, w - 1, w + 1]);
  const dx = new Int32Array([0, -1, 1, 0, -1, 1, -1, 1]);
  const dy = new Int32Array([-1, 0, 0, 1, -1, -1, 1, 1]);
  // Locals only (no closures) so the heap state stays in registers.
  let size = 0;
  let age = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 0) continue;
    const v = image[i]!;
    const a = age++;
    let k = size++;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      const pv = hv[parent]!;
      if (pv < v || (pv === v && ha[parent]! < a)) break;
      hv[k] = pv;
      ha[k] = ha[parent]!;
      hp[k] = hp[parent]!;
      k = parent;
    }
    hv[k] = v;
    ha[k] = a;
    hp[k] = i;
  }

  const lastX = width - 1;
  const lastY = height - 1;
  while (size > 0) {
    const pix = hp[0]!;
    size--;
    if (size > 0) {
      const v = hv[size]!;
      const a = ha[size]!;
      const p = hp[size]!;
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= size) break;
        const c2 = c + 1;
        if (c2 < size && (hv[c2]! < hv[c]! || (hv[c2] === hv[c] && ha[c2]! < ha[c]!))) c = c2;
        const cv = hv[c]!;
        if (v < cv || (v === cv && a < ha[c]!)) break;
        hv[k] = cv;
        ha[k] = ha[c]!;
        hp[k] = hp[c]!;
        k = c;
      }
      hv[k] = v;
      ha[k] = a;
      hp[k] = p;
    }
    const lab = labels[pix]!;
    const y = (pix / w) | 0;
    const x = pix - y * w;
    const interior = x > 0 && x < lastX && y > 0 && y < lastY;
    for (let d = 0; d < 8; d++) {
      if (!interior) {
        const xx = x + dx[d]!;
        const yy = y + dy[d]!;
        if (xx < 0 || xx > lastX || yy < 0 || yy > lastY) continue;
      }
      const q = pix + dOff[d]!;
      if (mask[q] === 0 || labels[q] !== 0) continue;
      labels[q] = lab;
      const v = image[q]!;
      const a = age++;
      let k = size++;
      while (k > 0) {
        const parent = (k - 1) >> 1;
        const pv = hv[parent]!;
        if (pv < v || (pv === v && ha[parent]! < a)) break;
        hv[k] = pv;
        ha[k] = ha[parent]!;
        hp[k] = hp[parent]!;
        k = parent;
      }
      hv[k] = v;
      ha[k] = a;
      hp[k] = q;
    }
  }
}
