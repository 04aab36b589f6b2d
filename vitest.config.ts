import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native TensorFlow, Temporal and PGlite each hold large process-wide state; forks keep
    // them isolated and let a test SIGKILL a child without taking the runner down.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    env: { TF_CPP_MIN_LOG_LEVEL: '2' },
  },
});
