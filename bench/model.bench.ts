// The two-stage U-Net (Mahbod et al., ISBI 2019) on native TensorFlow: train step at 256^2 and 512^2 (batch 2) against PyTorch CPU in the same run.
// A process of its own from segment.bench.ts, because a training process turns oneDNN on (src/model/backend.ts).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRng } from '../src/augment/rng.ts';
import { REPO_ROOT } from '../src/config.ts';
import { Adam } from '../src/model/adam.ts';
import { requireNativeBackend } from '../src/model/backend.ts';
import { trainStep } from '../src/model/train.ts';
import { createUNet } from '../src/model/unet.ts';
import { type BenchRow, peakRssMB, timeIt } from './harness.ts';

const REPS = 5;

interface TorchOut {
  torch: string;
  threads: number;
  [size: string]: number | string;
}

export async function run(): Promise<BenchRow[]> {
  const tf = requireNativeBackend(false, { training: true });
  const rng = createRng(1);
  const net = createUNet(tf, 'sigmoid', rng);
  const adam = new Adam(tf, net.params);
  const rows: BenchRow[] = [];
  const ours: Record<number, number> = {};
  for (const size of [256, 512]) {
    const x = new Float32Array(2 * size * size * 3);
    const y = new Float32Array(2 * size * size);
    for (let i = 0; i < x.length; i++) x[i] = rng.next();
    for (let i = 0; i < y.length; i++) y[i] = rng.next() > 0.5 ? 1 : 0;
    const batch = { batch: 2, size, x, y };
    let seed = 0;
    ours[size] = (await timeIt(() => trainStep(tf, net, adam, batch, seed++, 1e-3), REPS, 1)).minMs;
  }
  adam.dispose();
  net.dispose();
  // PyTorch lives only in the --bench variant of the tools venv.
  const venv = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'setup-tools-venv.sh'), '--bench'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  const torchOut = execFileSync(
    join(venv, 'bin', 'python'),
    [
      join(REPO_ROOT, 'tools', 'python', 'bench_unet_torch.py'),
      '--sizes',
      '256',
      '512',
      '--reps',
      String(REPS),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const torch = JSON.parse(torchOut.trim().split('\n').pop()!) as TorchOut;
  for (const size of [256, 512]) {
    rows.push({
      name: `U-Net train step ${size}x${size}, batch 2`,
      oursMs: ours[size]!,
      refName: `PyTorch ${torch.torch} CPU (${torch.threads} threads)`,
      refMs: torch[String(size)] as number,
      peakRssMB: peakRssMB(),
      note: `best of ${REPS}; 1,941,105 params, 0.5 BCE + Dice, Adam; ours includes seeded dropout masks and the JS->native batch copy`,
    });
  }

  return rows;
}
