// One MoNuSeg image tiled (repeated) to a SIDE x SIDE square and segmented by the shipped model in one tile, as a
// slide region of that window size is: wall ms, ms per Mpx, the split, and the process's peak RSS. Picks the slide
// pipeline's region size (src/slide/pipeline.ts, SLIDE_REGION_DEFAULTS).
// Usage: node --import tsx scripts/measure-window-size.ts 1088 1600 2112   (each size in its own process)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { readRgb } from '../src/imaging/io.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';

const IMAGE = 'TCGA-21-5784-01Z-00-DX1';

async function one(side: number): Promise<void> {
  const img = await readRgb(join(requireDataDir(loadConfig()), 'images', `${IMAGE}.tif`));
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = 3 * (y * side + x);
      const j = 3 * ((y % img.height) * img.width + (x % img.width));
      data[i] = img.data[j]!;
      data[i + 1] = img.data[j + 1]!;
      data[i + 2] = img.data[j + 2]!;
    }
  }
  const s = await loadSegmenter(SHIPPED_MODEL_DIR);
  const rgb = { width: side, height: side, data };
  const tile = Math.ceil(side / 16) * 16;
  await s.segment(rgb, IMAGE, { tile }); // warm-up: the first call of a shape pays for kernel selection
  const t0 = performance.now();
  const r = await s.segment(rgb, IMAGE, { tile });
  const ms = performance.now() - t0;
  s.dispose();
  const t = r.timingsMs;
  process.stdout.write(
    `${side}x${side}: ${ms.toFixed(0)} ms, ${((ms * 1e6) / (side * side)).toFixed(0)} ms per Mpx (normalise ${t.normalise.toFixed(0)}, nets ${t.nets.toFixed(0)}, post-process ${t.postprocess.toFixed(0)}), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
}

const sizes = process.argv.slice(2).map(Number);
if (sizes.length === 1) await one(sizes[0]!);
else {
  for (const side of sizes.length ? sizes : [1088, 1600, 2112]) {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'measure-window-size.ts'), String(side)],
      {
        stdio: ['ignore', 'inherit', 'ignore'],
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
      },
    );
  }
}
