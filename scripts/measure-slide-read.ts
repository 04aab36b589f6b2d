// Times region reads from the 40x test slide (testing/test-slide.ts: 3840x2624, JPEG tiles of 256) by
// the two routes that can read it: OpenSlide through koffi (src/slide, what NucleiFlow uses) and
// sharp/libvips' own TIFF loader on the slide's first page. Each round reads the same 20 random
// 512x512 level-0 regions (seeded); prints the best and the median round of 5, the RGB agreement, and
// how long one read of the whole of level 0 holds the event loop (the decode runs on koffi's threads).
//   node --import tsx scripts/measure-slide-read.ts
import { cpus, loadavg } from 'node:os';
import sharp from 'sharp';
import { openSlide } from '../src/slide/index.ts';
import { testSlide } from '../testing/test-slide.ts';

const READS = 20;
const SIZE = 512;
const ROUNDS = 5;

const t = await testSlide();
let seed = 15;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const regions = Array.from({ length: READS }, () => ({
  x: Math.floor(rand() * (t.width - SIZE)),
  y: Math.floor(rand() * (t.height - SIZE)),
}));

async function rounds(read: (x: number, y: number) => Promise<Uint8Array>): Promise<number[]> {
  await read(0, 0); // warm-up: library load, first directory parse
  const ms: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (const { x, y } of regions) await read(x, y);
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}

const slide = await openSlide(t.svs40);
const viaOpenSlide = (x: number, y: number) =>
  slide.readRegion({ x, y, level: 0, width: SIZE, height: SIZE });
const viaSharp = async (x: number, y: number) =>
  new Uint8Array(
    await sharp(t.svs40, { page: 0, limitInputPixels: false })
      .extract({ left: x, top: y, width: SIZE, height: SIZE })
      .removeAlpha()
      .raw()
      .toBuffer(),
  );

const results = {
  'OpenSlide 4.0.1 via koffi 3.3.4': await rounds(viaOpenSlide),
  'sharp (libvips tiffload)': await rounds(viaSharp),
};
// One read of all of level 0, with a 5 ms timer running: how long the event loop is held meanwhile.
let maxGap = 0;
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - last);
  last = now;
}, 5);
const w0 = performance.now();
await slide.readRegion({ x: 0, y: 0, level: 0, width: t.width, height: t.height });
const whole = performance.now() - w0;
clearInterval(timer);
const a = await viaOpenSlide(regions[0]!.x, regions[0]!.y);
const b = await viaSharp(regions[0]!.x, regions[0]!.y);
let diff = 0;
for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!);
slide.close();

console.log(
  `${READS} reads of ${SIZE}x${SIZE} at level 0, best / median of ${ROUNDS} rounds; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`,
);
for (const [name, ms] of Object.entries(results)) {
  console.log(
    `  ${name.padEnd(34)} ${ms[0]!.toFixed(0)} / ${ms[Math.floor(ROUNDS / 2)]!.toFixed(0)} ms (${(ms[0]! / READS).toFixed(1)} ms a read)`,
  );
}
console.log(
  `  mean |OpenSlide - sharp| on one region: ${(diff / a.length).toFixed(3)} (same JPEG tiles, two decoders)`,
);
console.log(
  `  all of level 0 (${t.width}x${t.height}) in one OpenSlide read: ${whole.toFixed(0)} ms, longest event-loop gap ${maxGap.toFixed(0)} ms`,
);
