// Child-process probe for test/model-unet.test.ts: both nets predict one SIDE x SIDE input; prints the peak RSS.
import { createRng } from '../src/augment/rng.ts';
import { loadTf } from '../src/model/backend.ts';
import { createUNet } from '../src/model/unet.ts';

const side = Number(process.argv[2] ?? 1088);
const tf = loadTf();
const seg = createUNet(tf, 'sigmoid', createRng(1));
const dist = createUNet(tf, 'linear', createRng(2));
const x = tf.randomUniform([1, side, side, 3]) as import('@tensorflow/tfjs-node').Tensor4D;
for (const net of [seg, dist]) net.predict(x).dispose();
process.stdout.write(
  `${JSON.stringify({ side, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
);
