// Step learning-rate schedules of Mahbod et al., ISBI 2019 (Adam, lr 1e-3, x0.4 at fixed epochs), and the
// three kinds of training budget a net may be given: epochs, optimiser steps or wall-clock minutes.
//
// Field names follow the experiment spec's `training.seg|dist` (experiments/schema.ts). An "epoch"
// is `stepsPerEpoch` optimiser steps of `batchSize` crops; the paper's epoch is one pass over the
// 16 training images resized to 1024x1024 with batch 2, i.e. 8 steps.

export const BUDGET_KINDS = ['epochs', 'steps', 'minutes'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];
export interface Budget {
  readonly kind: BudgetKind;
  readonly value: number;
}

export interface LrSchedule {
  /** Multiply the lr by this at every drop. */
  readonly factor: number;
  /** Epochs budgets: a drop every `every` epochs (at epochs every, 2*every, ...; epochs count from 0). */
  readonly every?: number;
  /** Steps and minutes budgets: this many drops, at equal fractions of the budget. */
  readonly drops?: number;
  /**
   * Steps budgets: drop after exactly these step counts instead (strictly increasing), e.g. the
   * `lrDrops` a minutes budget recorded, to replay it by steps.
   */
  readonly atSteps?: readonly number[];
}

export interface TrainingSchedule {
  /** Budget: exactly one of `epochs`, `steps` or `minutes` (see budgetOf). */
  readonly epochs?: number;
  /** Optimiser steps; the run stops after exactly this many, in the middle of an epoch if need be. */
  readonly steps?: number;
  /**
   * Wall-clock minutes over all sessions of the run, checked at epoch boundaries: the run ends when
   * one more epoch of the mean length so far would pass it (src/model/train.ts).
   */
  readonly minutes?: number;
  readonly batchSize: number;
  /** Square crop side in pixels (multiple of 16). */
  readonly inputSize: number;
  /** Optimiser steps per epoch; default: training images / batch size. */
  readonly stepsPerEpoch?: number;
  readonly lr: number;
  readonly lrSchedule: LrSchedule;
  /**
   * Dropout in training (default true, the paper's net). Off trades regularisation for faster
   * fitting, for budgets too short to over-fit; the architecture and parameter count are unchanged.
   */
  readonly dropout?: boolean;
}

/**
 * The one budget of a schedule; a RangeError naming what is wrong when it has none or several, or
 * an lr schedule that does not fit the budget's kind (the spec schema refuses these earlier, with
 * the field's path).
 */
export function budgetOf(s: TrainingSchedule): Budget {
  const given = BUDGET_KINDS.filter((k) => s[k] !== undefined);
  if (given.length !== 1) {
    throw new RangeError(
      `give one budget (epochs, steps or minutes), got ${given.length ? given.join(' and ') : 'none'}`,
    );
  }
  const kind = given[0]!;
  const value = s[kind]!;
  const problem = lrScheduleProblem(kind, value, s.lrSchedule);
  if (problem) throw new RangeError(`lrSchedule.${problem.field}: ${problem.message}`);
  return { kind, value };
}

/** What is wrong with an lr schedule for a budget of `kind`, or null. Shared with the spec schema. */
export function lrScheduleProblem(
  kind: BudgetKind,
  value: number,
  l: LrSchedule,
): { field: keyof LrSchedule; message: string } | null {
  if (kind === 'epochs') {
    if (l.drops !== undefined || l.atSteps !== undefined) {
      return {
        field: l.drops !== undefined ? 'drops' : 'atSteps',
        message: 'only for a steps or minutes budget; an epochs budget drops every lrSchedule.every epochs',
      };
    }
    if (l.every === undefined) return { field: 'every', message: 'required for an epochs budget' };
    return null;
  }
  if (l.every !== undefined) {
    return {
      field: 'every',
      message: `only for an epochs budget; a ${kind} budget drops at equal fractions (lrSchedule.drops)`,
    };
  }
  if (kind === 'minutes' && l.atSteps !== undefined) {
    return { field: 'atSteps', message: 'only for a steps budget; a minutes budget takes lrSchedule.drops' };
  }
  if (l.drops !== undefined && l.atSteps !== undefined) {
    return { field: 'atSteps', message: 'give lrSchedule.drops or lrSchedule.atSteps, not both' };
  }
  if (l.drops === undefined && l.atSteps === undefined) {
    return {
      field: 'drops',
      message: `required for a ${kind} budget (0 for a constant lr)${kind === 'steps' ? ', or lrSchedule.atSteps' : ''}`,
    };
  }
  if (l.atSteps) {
    const bad = l.atSteps.findIndex((x, i) => x <= (i === 0 ? 0 : l.atSteps![i - 1]!) || x >= value);
    if (bad >= 0) {
      return {
        field: 'atSteps',
        message: `must be strictly increasing step counts between 1 and the budget (${value} steps) - 1; entry ${bad} is ${l.atSteps[bad]}`,
      };
    }
  }
  return null;
}

/** Optimiser steps of one epoch: `stepsPerEpoch`, else one pass over the images. */
export function stepsPerEpoch(s: TrainingSchedule, images: number): number {
  return s.stepsPerEpoch ?? Math.max(1, Math.ceil(images / s.batchSize));
}

/** Epochs a run will take: known in advance for epochs and steps budgets, null for minutes. */
export function plannedEpochs(s: TrainingSchedule, images: number): number | null {
  const b = budgetOf(s);
  if (b.kind === 'epochs') return b.value;
  if (b.kind === 'steps') return Math.ceil(b.value / stepsPerEpoch(s, images));
  return null;
}

/** Epochs budgets: lr for a 0-based epoch, lr * factor^floor(epoch / every). */
export function learningRate(s: TrainingSchedule, epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`learningRate: epoch must be a non-negative integer, got ${epoch}`);
  }
  const every = s.lrSchedule.every;
  if (every === undefined) throw new RangeError('learningRate: lrSchedule.every is required for epochs');
  return s.lr * s.lrSchedule.factor ** Math.floor(epoch / every);
}

/**
 * Steps budgets: lr of the step taken after `done` steps (0-based). With `atSteps` the lr drops
 * once for every listed count <= done; with `drops` = n, at equal fractions of the budget: the
 * level is min(n, floor(done * (n + 1) / steps)), so drop k comes after ceil(k * steps / (n + 1))
 * steps. A pure function of the step count, so a resumed run uses the same lr at every step.
 */
export function stepLearningRate(s: TrainingSchedule, done: number): number {
  const steps = s.steps;
  if (steps === undefined) throw new RangeError('stepLearningRate: a steps budget is required');
  const { atSteps, drops = 0, factor } = s.lrSchedule;
  const level = atSteps
    ? atSteps.filter((x) => x <= done).length
    : Math.min(drops, Math.floor((done * (drops + 1)) / steps));
  return s.lr * factor ** level;
}

/** Minutes budgets: lr after `fraction` (0..1) of the budget is spent; `drops` drops at equal fractions. */
export function budgetLearningRate(s: TrainingSchedule, fraction: number): number {
  const drops = s.lrSchedule.drops ?? 0;
  const level = Math.min(drops, Math.floor(Math.max(0, fraction) * (drops + 1)));
  return s.lr * s.lrSchedule.factor ** level;
}

/** The paper, segmentation net: 240 epochs, lr x0.4 every 80; whole images at 1024, batch 2. */
export const PAPER_SEG: TrainingSchedule = {
  epochs: 240,
  batchSize: 2,
  inputSize: 1024,
  lr: 1e-3,
  lrSchedule: { every: 80, factor: 0.4 },
};

/** The paper, distance net: 120 epochs, one drop at 60 (factor not published; 0.4 assumed). */
export const PAPER_DIST: TrainingSchedule = {
  ...PAPER_SEG,
  epochs: 120,
  lrSchedule: { every: 60, factor: 0.4 },
};
