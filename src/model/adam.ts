// Adam (Kingma & Ba, ICLR 2015) in the Keras form: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), w -= lr_t * m / (sqrt(v) + eps).
//
// Own implementation instead of tf.train.adam so that its whole state (m, v, t) is plain tensors
// this code saves and restores bit for bit; the bias correction is computed in float64 in JS.
import type { Tf } from './backend.ts';

type Tensor = import('@tensorflow/tfjs-node').Tensor;
type Variable = import('@tensorflow/tfjs-node').Variable;

export interface AdamState {
  /** Steps taken so far. */
  readonly t: number;
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

export class Adam {
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly epsilon = 1e-7;
  private t = 0;
  private readonly m: Variable[];
  private readonly v: Variable[];

  constructor(
    private readonly tf: Tf,
    private readonly params: readonly Variable[],
  ) {
    const zeros = (p: Variable) => {
      const z = tf.zerosLike(p);
      const v = tf.variable(z, false);
      z.dispose();
      return v;
    };
    this.m = params.map(zeros);
    this.v = params.map(zeros);
  }

  get steps(): number {
    return this.t;
  }

  /** One update with learning rate `lr`; `grads` are in `params` order and are not disposed here. */
  apply(grads: readonly Tensor[], lr: number): void {
    const tf = this.tf;
    this.t += 1;
    const lrT = (lr * Math.sqrt(1 - this.beta2 ** this.t)) / (1 - this.beta1 ** this.t);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.m[i]!, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i]!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        p.assign(tf.sub(p, tf.div(tf.mul(m, lrT), tf.add(tf.sqrt(v), this.epsilon))));
      });
    });
  }

  async getState(): Promise<AdamState> {
    const m = await Promise.all(this.m.map(async (x) => (await x.data()) as Float32Array));
    const v = await Promise.all(this.v.map(async (x) => (await x.data()) as Float32Array));
    return { t: this.t, m, v };
  }

  setState(s: AdamState): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) {
      throw new RangeError(
        `Adam state: expected ${this.m.length} moment tensors, got ${s.m.length}/${s.v.length}`,
      );
    }
    this.t = s.t;
    this.tf.tidy(() => {
      for (const [i, x] of this.m.entries()) x.assign(this.tf.tensor(s.m[i]!, x.shape));
      for (const [i, x] of this.v.entries()) x.assign(this.tf.tensor(s.v[i]!, x.shape));
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}
