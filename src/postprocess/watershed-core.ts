// Priority-flood hot loop of the marker-controlled watershed (Mahbod et al. 2019, stage-2 seeds flooded over the distance map).

/**
 * Floods `labels` (in: marker ids, 0 elsewhere; out: the basins) over `image` (or `-image` with
 * `negate`, without allocating the negated copy) in place.
 *
 * Order (skimage's heap watershed): a pixel takes the label of the neighbour that first reaches
 * it and is labelled when queued; the queue yields the lowest image value first and, among equal
 * values, the earliest queued (FIFO = skimage's age order). Markers are queued in raster order.
 * Neighbours are 8-connected, visited in skimage's order (N, W, E, S, NW, NE, SW, SE). Pixels
 * with mask 0 are never labelled.
 *
 * Queue: instead of a binary heap, the values of the pixels that can be flooded are ranked once
 * (LSD radix sort of an order-preserving 32-bit code of each float32 value, two 16-bit passes),
 * and the queue is one FIFO list per rank with a cursor that only moves up; ranks that become
 * non-empty below the cursor (flooding downhill) go to a small binary heap of ranks served first.
 * This yields exactly the (value, age) order of a (value, age) heap, since ages grow with
 * queueing. Cost: O(m + 65536) for the ranking, O(m + ranks) for the flood plus O(log) per
 * downhill rank, m = pixels in the mask; typed arrays allocated once.
 */
export function floodFill(
  image: Float32Array,
  width: number,
  height: number,
  labels: Int32Array,
  mask: Uint8Array,
  negate = false,
): void {
  const n = width * height;
  let m = 0;
  for (let i = 0; i < n; i++) if (mask[i] !== 0 || labels[i] !== 0) m++;
  if (m === 0) return;

  // 1. Order-preserving codes: negative floats flip all bits, positive ones set the sign bit.
  //    `+ 0` turns -0 into +0 (they compare equal as floats, so they must share a rank).
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let keys = new Uint32Array(m);
  let pix = new Int32Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (mask[i] === 0 && labels[i] === 0) continue;
    f32[0] = (negate ? -image[i]! : image[i]!) + 0;
    const b = u32[0]!;
    keys[j] = b & 0x80000000 ? ~b : b | 0x80000000;
    pix[j++] = i;
  }

  // 2. Stable LSD radix sort by code, low 16 bits then high 16 bits.
  let keys2 = new Uint32Array(m);
  let pix2 = new Int32Array(m);
  const count = new Int32Array(65537);
  for (let shift = 0; shift < 32; shift += 16) {
    count.fill(0);
    for (let j = 0; j < m; j++) count[((keys[j]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 0; d < 65536; d++) count[d + 1]! += count[d]!;
    for (let j = 0; j < m; j++) {
      const pos = count[(keys[j]! >>> shift) & 0xffff]!++;
      keys2[pos] = keys[j]!;
      pix2[pos] = pix[j]!;
    }
    const tk = keys;
    keys = keys2;
    keys2 = tk;
    const tp = pix;
    pix = pix2;
    pix2 = tp;
  }

  // 3. Rank of each pixel's value among the distinct values.
  // rank is also the flood state: -1 marks a pixel that cannot be queued (outside the mask, or
  // already queued), so the neighbour test is a single load.
  const rank = new Int32Array(n).fill(-1);
  let r = 0;
  for (let j = 0; j < m; j++) {
    if (j > 0 && keys[j] !== keys[j - 1]) r++;
    rank[pix[j]!] = r;
  }
  const nRanks = r + 1;

  // 4. Flood: FIFO list per rank (head/tail per rank, `next` per pixel). `cur` only moves up;
  //    non-empty ranks below it (reached downhill) sit in a small binary heap of ranks, so the
  //    cursor never rescans emptied ranks.
  // The sort buffers are free now: they hold the per-rank tables (nRanks <= m).
  const head = new Int32Array(keys2.buffer, 0, nRanks).fill(-1);
  const tail = pix2.subarray(0, nRanks);
  const low = new Int32Array(keys.buffer, 0, nRanks);
  const next = new Int32Array(n);
  let nLow = 0;
  let cur = nRanks;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 0) continue;
    const b = rank[i]!;
    rank[i] = -1;
    next[i] = -1;
    if (head[b] === -1) head[b] = i;
    else next[tail[b]!] = i;
    tail[b] = i;
    if (b < cur) cur = b;
  }
  const w = width;
  const lastX = width - 1;
  const lastY = height - 1;
  const dOff = new Int32Array([-w, -1, 1, w, -w - 1, -w + 1, w - 1, w + 1]);
  const dx = new Int32Array([0, -1, 1, 0, -1, 1, -1, 1]);
  const dy = new Int32Array([-1, 0, 0, 1, -1, -1, 1, 1]);
  for (;;) {
    let p: number;
    if (nLow > 0) {
      const b = low[0]!;
      p = head[b]!;
      head[b] = next[p]!;
      if (head[b] === -1) {
        // Rank b is empty: pop it from the low heap.
        const last = low[--nLow]!;
        let k = 0;
        for (;;) {
          let c = 2 * k + 1;
          if (c >= nLow) break;
          if (c + 1 < nLow && low[c + 1]! < low[c]!) c++;
          if (last <= low[c]!) break;
          low[k] = low[c]!;
          k = c;
        }
        low[k] = last;
      }
    } else {
      while (cur < nRanks && head[cur] === -1) cur++;
      if (cur === nRanks) break;
      p = head[cur]!;
      head[cur] = next[p]!;
    }
    const lab = labels[p]!;
    const y = (p / w) | 0;
    const x = p - y * w;
    const interior = x > 0 && x < lastX && y > 0 && y < lastY;
    for (let d = 0; d < 8; d++) {
      if (!interior) {
        const xx = x + dx[d]!;
        const yy = y + dy[d]!;
        if (xx < 0 || xx > lastX || yy < 0 || yy > lastY) continue;
      }
      const q = p + dOff[d]!;
      const b = rank[q]!;
      if (b < 0) continue;
      rank[q] = -1;
      labels[q] = lab;
      next[q] = -1;
      if (head[b] === -1) {
        head[b] = q;
        if (b < cur) {
          // A newly non-empty rank below the cursor joins the low heap.
          let k = nLow++;
          while (k > 0) {
            const parent = (k - 1) >> 1;
            if (low[parent]! <= b) break;
            low[k] = low[parent]!;
            k = parent;
          }
          low[k] = b;
        }
      } else {
        next[tail[b]!] = q;
      }
      tail[b] = q;
    }
  }
}
