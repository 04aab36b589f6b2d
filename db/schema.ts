/**
 * The tracking schema, the single source of truth for PostgreSQL and PGlite alike.
 * Every table that an activity writes has a natural primary key, so a retried activity upserts
 * instead of duplicating rows. Migrations are generated from this file into db/migrations/ as SQL.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const experiments = pgTable('experiments', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  specName: text('spec_name').notNull(),
  spec: jsonb('spec').notNull(),
  status: text('status').notNull().default('pending'),
  workflowId: text('workflow_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    experimentId: text('experiment_id')
      .notNull()
      .references(() => experiments.id, { onDelete: 'cascade' }),
    /** The ablation arm, e.g. {"gtErosion": false}; {} for a single-run experiment. */
    arm: jsonb('arm').notNull().default({}),
    status: text('status').notNull().default('pending'),
    spec: jsonb('spec').notNull(),
    configHash: text('config_hash').notNull(),
    seed: integer('seed').notNull(),
    codeCommit: text('code_commit'),
    dataHash: text('data_hash'),
    workflowId: text('workflow_id'),
    workerHost: text('worker_host'),
    mlflowRunId: text('mlflow_run_id'),
    error: text('error'),
    timings: jsonb('timings').notNull().default({}),
    /**
     * What each net's training actually ran, per stage: {steps, epochs, lrDrops (steps at which the
     * lr dropped), wallSeconds, cpuSeconds}, counted across resumes, so a minutes budget can be
     * replayed as a steps budget on another machine.
     */
    trained: jsonb('trained').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('runs_experiment_idx').on(t.experimentId)],
);

export const params = pgTable(
  'params',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] })],
);

/** Per-epoch (or per-step) scalars: loss, val_loss, lr, seconds, images_per_s. */
export const metrics = pgTable(
  'metrics',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** 'seg' | 'dist' | 'eval' */
    stage: text('stage').notNull(),
    key: text('key').notNull(),
    step: integer('step').notNull(),
    value: doublePrecision('value').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stage, t.key, t.step] })],
);

/** One row per test image and method: the paper's Table 1 plus AJI+ and PQ. */
export const imageResults = pgTable(
  'image_results',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /**
     * 'two-stage' (the method) or 'stage1' (the paper's "U-Net" column: instances from the
     * thresholded stage-1 map with the same cleanup).
     */
    method: text('method').notNull().default('two-stage'),
    image: text('image').notNull(),
    organ: text('organ').notNull(),
    /** 'seen' | 'unseen' */
    subset: text('subset').notNull(),
    dice: doublePrecision('dice').notNull(),
    f1: doublePrecision('f1').notNull(),
    aji: doublePrecision('aji').notNull(),
    ajiPlus: doublePrecision('aji_plus').notNull(),
    pq: doublePrecision('pq').notNull(),
    nGt: integer('n_gt').notNull(),
    nPred: integer('n_pred').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.method, t.image] })],
);

/**
 * Post-processing selection on the training images: one row per setting of the spec's grid, its
 * mean scores, and which one the run chose. Test images take no part.
 */
export const tuningResults = pgTable(
  'tuning_results',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** Stable key of the setting, e.g. 'thr=0.9,sigma=0.7,seed=0.75,grow=2'. */
    setting: text('setting').notNull(),
    params: jsonb('params').notNull(),
    aji: doublePrecision('aji').notNull(),
    dice: doublePrecision('dice').notNull(),
    f1: doublePrecision('f1').notNull(),
    /** Number of training images the setting was scored on. */
    images: integer('images').notNull(),
    chosen: boolean('chosen').notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.runId, t.setting] })],
);

/**
 * The model registry: one version per completed run that registered a model. Weights live in
 * `dir` (the run's packaged model folder); the card is generated from the store.
 */
export const modelVersions = pgTable(
  'model_versions',
  {
    name: text('name').notNull(),
    version: integer('version').notNull(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    dir: text('dir').notNull(),
    card: jsonb('card').notNull(),
    /** MLflow Model Registry version, once the outbox has delivered it. */
    mlflowVersion: text('mlflow_version'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.name, t.version] }),
    uniqueIndex('model_versions_run_idx').on(t.name, t.runId),
  ],
);

/** Named pointers to a model version, e.g. `default`; `segment` resolves NAME@ALIAS through them. */
export const modelAliases = pgTable(
  'model_aliases',
  {
    name: text('name').notNull(),
    alias: text('alias').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.name, t.alias] })],
);

export const artifacts = pgTable(
  'artifacts',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** 'checkpoint' | 'model' | 'labels' | 'overlay' | 'report' | ... */
    kind: text('kind').notNull(),
    path: text('path').notNull(),
    sha256: text('sha256').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.path] })],
);

/**
 * Records waiting to reach MLflow. Written in the same transaction as the tracking rows, drained
 * by an activity; dedupe_key makes a retried write a no-op.
 */
export const mlflowOutbox = pgTable(
  'mlflow_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    payload: jsonb('payload').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('mlflow_outbox_dedupe_idx').on(t.dedupeKey),
    index('mlflow_outbox_pending_idx').on(t.deliveredAt),
    // Delivery reads one run's pending rows in write order.
    index('mlflow_outbox_run_pending_idx').on(t.runId, t.id).where(sql`${t.deliveredAt} is null`),
  ],
);

/**
 * Whole-slide segmentations (the slide workflow), one row per slide and output folder: keyed by the workflow id,
 * so a retried or resumed slide updates its row. Slides are gigabytes, so a slide is named by its identity
 * (src/slide/identity.ts: a hash of its header, edges and smallest level) beside its path.
 */
export const slideSegmentations = pgTable(
  'slide_segmentations',
  {
    workflowId: text('workflow_id').primaryKey(),
    slide: text('slide').notNull(),
    identity: text('identity'),
    /** The model version that segments it: `name@version`, or `folder:<seg sha256 prefix>`. */
    model: text('model').notNull(),
    outDir: text('out_dir').notNull(),
    /** 'running' | 'completed' | 'skipped' | 'failed' */
    status: text('status').notNull(),
    regions: integer('regions'),
    /** Regions computed by the latest execution (the rest were recorded before). */
    computed: integer('computed'),
    nuclei: integer('nuclei'),
    tissueAreaMm2: doublePrecision('tissue_area_mm2'),
    /** Seconds: wall time of the latest execution, and what its summary records. */
    timings: jsonb('timings').notNull().default({}),
    summary: text('summary'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('slide_segmentations_identity_idx').on(t.identity, t.model)],
);
