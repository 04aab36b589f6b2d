// Losses of Mahbod et al., ISBI 2019: 0.5 * binary cross-entropy + soft Dice for segmentation, MSE for distance maps.
import type { Tf } from './backend.ts';

type Tensor = import('@tensorflow/tfjs-node').Tensor;
type Scalar = import('@tensorflow/tfjs-node').Scalar;

/** Smoothing term of the soft Dice (Keras starter convention): keeps empty crops finite. */
export const DICE_SMOOTH = 1;

/**
 * 0.5 * BCE + (1 - soft Dice). `logits` are pre-sigmoid network outputs (BCE from logits is
 * numerically stable); `target` is {0, 1}. Dice is computed over the whole batch as one volume.
 */
export function segLoss(tf: Tf, target: Tensor, logits: Tensor): Scalar {
  return tf.tidy(() => {
    const bce = tf.losses.sigmoidCrossEntropy(target, logits, undefined, 0, tf.Reduction.MEAN);
    const p = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(p, target));
    const dice = tf.div(
      tf.add(tf.mul(inter, 2), DICE_SMOOTH),
      tf.add(tf.add(tf.sum(p), tf.sum(target)), DICE_SMOOTH),
    );
    return tf.add(tf.mul(bce, 0.5), tf.sub(1, dice)) as Scalar;
  });
}

/** Mean squared error between predicted and target normalised distance maps. */
export function distLoss(tf: Tf, target: Tensor, pred: Tensor): Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(pred, target)) as Scalar);
}
