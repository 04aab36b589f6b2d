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
  /** Element count of each parameter, in `params` order. */
  private readonly sizes: number[];
  // m and v of all parameters end to end: the update is a dozen kernels on one vector instead of a
  // dozen per parameter (46 of them), with the same arithmetic per element, so the same bits.
  private readonly m: Variable;
  private readonly v: Variable;

  constructor(
    private readonly tf: Tf,
    private readonly params: readonly Variable[],
  ) {
    this.sizes = params.map((p) => p.size);
    const n = this.sizes.reduce((a, b) => a + b, 0);
    const zeros = () => {
      const z = tf.zeros([n]);
      const v = tf.variable(z, false);
      z.dispose();
      return v;
    };
    this.m = zeros();
    this.v = zeros();
  }

  get steps(): number {
    return this.t;
  }

  /** One update with learning rate `lr`; `grads` are in `params` order and are not disposed here. */
  apply(grads: readonly Tensor[], lr: number): void {
    const tf = this.tf;
    if (grads.length !== this.params.length) {
      throw new RangeError(`Adam: expected ${this.params.length} gradients, got ${grads.length}`);
    }
    this.t += 1;
    const lrT = (lr * Math.sqrt(1 - this.beta2 ** this.t)) / (1 - this.beta1 ** this.t);
    tf.tidy(() => {
      const g = tf.concat(grads.map((x) => tf.reshape(x, [-1])));
      const m = tf.add(tf.mul(this.m, this.beta1), tf.mul(g, 1 - this.beta1));
      const v = tf.add(tf.mul(this.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      this.m.assign(m);
      this.v.assign(v);
      const step = tf.split(tf.div(tf.mul(m, lrT), tf.add(tf.sqrt(v), this.epsilon)), this.sizes);
      this.params.forEach((p, i) => {
        p.assign(tf.sub(p, tf.reshape(step[i]!, p.shape)));
      });
    });
  }

  async getState(): Promise<AdamState> {
    return {
      t: this.t,
      m: this.perParam((await this.m.data()) as Float32Array),
      v: this.perParam((await this.v.data()) as Float32Array),
    };
  }

  setState(s: AdamState): void {
    if (s.m.length !== this.sizes.length || s.v.length !== this.sizes.length) {
      throw new RangeError(
        `Adam state: expected ${this.sizes.length} moment tensors, got ${s.m.length}/${s.v.length}`,
      );
    }
    for (const [i, n] of this.sizes.entries()) {
      if (s.m[i]!.length !== n || s.v[i]!.length !== n) {
        throw new RangeError(
          `Adam state: moment ${i} has ${s.m[i]!.length}/${s.v[i]!.length} values, expected ${n} for [${this.params[i]!.shape}]`,
        );
      }
    }
    this.t = s.t;
    this.tf.tidy(() => {
      this.m.assign(this.tf.tensor1d(this.joined(s.m)));
      this.v.assign(this.tf.tensor1d(this.joined(s.v)));
    });
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }

  /** Cuts a flat moment vector into one copy per parameter (the checkpoint's layout). */
  private perParam(flat: Float32Array): Float32Array[] {
    let at = 0;
    return this.sizes.map((n) => {
      const part = flat.slice(at, at + n);
      at += n;
      return part;
    });
  }

  private joined(parts: readonly Float32Array[]): Float32Array {
    const out = new Float32Array(this.m.size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
