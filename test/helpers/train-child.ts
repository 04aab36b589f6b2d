// A training process for test/model-resume.test.ts: trains the synthetic task with a steps budget
// into the checkpoint folder argv[2], resuming from its checkpoint; exit 0 when the budget is spent.
import { loadTf } from '../../src/model/backend.ts';
import type { TrainingSchedule } from '../../src/model/schedule.ts';
import { train } from '../../src/model/train.ts';
import { synthetic } from './synthetic-batches.ts';

/** 22 steps of 6 per epoch: the last epoch is cut short; the lr drops after steps 8 and 15, mid-epoch. */
export const CHILD_SCHEDULE: TrainingSchedule = {
  steps: 22,
  batchSize: 2,
  inputSize: 32,
  stepsPerEpoch: 6,
  lr: 1e-3,
  lrSchedule: { factor: 0.4, drops: 2 },
};

const dir = process.argv[2];
if (!dir) throw new Error('usage: train-child.ts <checkpoint dir>');
// A training process, as nucleiflow train is: oneDNN asked for (see loadTf), so resume is tested with it.
loadTf({ training: true });
await train({
  stage: 'seg',
  schedule: CHILD_SCHEDULE,
  seed: 3,
  data: synthetic,
  configHash: 'resume-test',
  checkpointDir: dir,
  progress: false,
});
