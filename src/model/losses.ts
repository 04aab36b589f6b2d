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

/**
 * The three-class stage-1 loss: 0.5 * softmax cross-entropy + (1 - the mean of the interior's and the
 * boundary's soft Dice), the paper's segmentation loss carried over to classes. `logits` are the net's
 * three pre-softmax channels; `target` holds one class index per pixel (0 background, 1 interior,
 * 2 boundary, src/groundtruth/three-class.ts) in a single channel.
 */
export function segLoss3(tf: Tf, target: Tensor, logits: Tensor): Scalar {
  return tf.tidy(() => {
    const t = tf.oneHot(tf.cast(tf.squeeze(target, [-1]), 'int32'), 3);
    const ce = tf.losses.softmaxCrossEntropy(t, logits, undefined, 0, tf.Reduction.MEAN);
    const p = tf.softmax(logits);
    const axes = [0, 1, 2];
    const inter = tf.sum(tf.mul(p, t), axes);
    const dice = tf.div(
      tf.add(tf.mul(inter, 2), DICE_SMOOTH),
      tf.add(tf.add(tf.sum(p, axes), tf.sum(t, axes)), DICE_SMOOTH),
    );
    const foreground = tf.mean(tf.slice(dice, [1], [2]));
    return tf.add(tf.mul(ce, 0.5), tf.sub(1, foreground)) as Scalar;
  });
}
