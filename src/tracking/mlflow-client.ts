/**
 * A small typed client over the MLflow tracking REST API (2.0 endpoints, served by MLflow 2.x and
 * 3.x): experiments and their tags, runs, log-batch within the server's per-request limits, dataset
 * inputs, terminate, and artifact upload through the artifact proxy (`mlflow server
 * --serve-artifacts`). Every call can be retried: experiments and runs are found by name/tag before
 * they are created, metrics carry their own timestamps so a re-sent batch stores nothing twice, and
 * the server keeps one input per (dataset name, digest) and run.
 */

/** Per-request limits of runs/log-batch. */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, totalEntries: 1000 } as const;

export interface MlflowMetric {
  readonly key: string;
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly step: number;
}
export interface MlflowParam {
  readonly key: string;
  readonly value: string;
}
export interface MlflowTag {
  readonly key: string;
  readonly value: string;
}
export interface MlflowRunInfo {
  readonly run_id: string;
  readonly experiment_id: string;
  readonly status: string;
  readonly artifact_uri: string;
  readonly run_name?: string;
}
/** A dataset as runs/log-inputs takes it (mlflow/entities/dataset.py); schema and profile are JSON strings. */
export interface MlflowDataset {
  readonly name: string;
  /** At most 36 characters (the server's limit). */
  readonly digest: string;
  readonly source_type: string;
  readonly source: string;
  readonly schema?: string;
  readonly profile?: string;
}
export interface MlflowDatasetInput {
  readonly dataset: MlflowDataset;
  /** e.g. `mlflow.data.context` = training / testing. */
  readonly tags?: readonly MlflowTag[];
}
export interface MlflowRun {
  readonly info: MlflowRunInfo;
  readonly data: { metrics?: MlflowMetric[]; params?: MlflowParam[]; tags?: MlflowTag[] };
  readonly inputs?: { dataset_inputs?: MlflowDatasetInput[] };
}
export interface MlflowExperiment {
  readonly experiment_id: string;
  readonly name: string;
  /** `active`, or `deleted` (in MLflow's trash: no run can be created in it until restored). */
  readonly lifecycle_stage?: string;
  readonly tags?: MlflowTag[];
}
export interface MlflowModelVersion {
  readonly name: string;
  readonly version: string;
  readonly source?: string;
  readonly run_id?: string;
  readonly status?: string;
  readonly aliases?: string[];
  readonly tags?: MlflowTag[];
}
export interface MlflowRegisteredModel {
  readonly name: string;
  readonly aliases?: Array<{ alias: string; version: string }>;
  readonly latest_versions?: MlflowModelVersion[];
}
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** The server answered with an error (or could not be reached: status 0). */
export class MlflowError extends Error {
  readonly status: number;
  readonly errorCode: string | undefined;
  constructor(message: string, status: number, errorCode?: string) {
    super(message);
    this.name = 'MlflowError';
    this.status = status;
    this.errorCode = errorCode;
  }
}

/** Splits a batch so that no request exceeds the log-batch limits. */
export function chunkBatch(
  metrics: readonly MlflowMetric[],
  params: readonly MlflowParam[],
  tags: readonly MlflowTag[],
): Array<{ metrics: MlflowMetric[]; params: MlflowParam[]; tags: MlflowTag[] }> {
  const out: Array<{ metrics: MlflowMetric[]; params: MlflowParam[]; tags: MlflowTag[] }> = [];
  let m = 0;
  let p = 0;
  let t = 0;
  while (m < metrics.length || p < params.length || t < tags.length || out.length === 0) {
    const np = Math.min(LOG_BATCH_LIMITS.params, params.length - p);
    const nt = Math.min(LOG_BATCH_LIMITS.tags, tags.length - t);
    const nm = Math.min(
      LOG_BATCH_LIMITS.metrics,
      LOG_BATCH_LIMITS.totalEntries - np - nt,
      metrics.length - m,
    );
    out.push({
      metrics: metrics.slice(m, m + nm),
      params: params.slice(p, p + np),
      tags: tags.slice(t, t + nt),
    });
    m += nm;
    p += np;
    t += nt;
    if (metrics.length + params.length + tags.length === 0) break;
  }
  return out;
}

export class MlflowClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(trackingUri: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = trackingUri.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** fetch's own message is a bare "fetch failed"; the reason (refused, timed out, bad port) is its cause. */
  private unreachable(err: unknown): MlflowError {
    const e = err as Error & { cause?: { message?: string; code?: string } };
    const cause = e.cause?.code ?? e.cause?.message;
    return new MlflowError(
      `MLflow at ${this.baseUrl} unreachable: ${e.message}${cause ? ` (${cause})` : ''}`,
      0,
    );
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}/api/2.0/mlflow/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text();
    if (!res.ok) {
      let code: string | undefined;
      let message = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { error_code?: string; message?: string };
        code = j.error_code;
        message = j.message ?? message;
      } catch {
        // not JSON (a proxy's HTML error page): keep the text
      }
      throw new MlflowError(`MLflow ${method} ${path}: ${res.status} ${message}`, res.status, code);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async health(): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(3000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  async getExperimentByName(name: string): Promise<string | undefined> {
    try {
      const r = await this.request<{ experiment: { experiment_id: string } }>(
        'GET',
        `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
      );
      return r.experiment.experiment_id;
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /** Returns the id of the experiment called `name`, creating it if needed (safe under races). */
  async ensureExperiment(name: string, tags: readonly MlflowTag[] = []): Promise<string> {
    const existing = await this.getExperimentByName(name);
    if (existing) return existing;
    try {
      const r = await this.request<{ experiment_id: string }>('POST', 'experiments/create', { name, tags });
      return r.experiment_id;
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') {
        const id = await this.getExperimentByName(name);
        if (id) return id;
      }
      throw err;
    }
  }

  async getExperiment(experimentId: string): Promise<MlflowExperiment> {
    const r = await this.request<{ experiment: MlflowExperiment }>(
      'GET',
      `experiments/get?experiment_id=${encodeURIComponent(experimentId)}`,
    );
    return r.experiment;
  }

  /** Sets (or overwrites) one experiment tag: repeating it is harmless. */
  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.request('POST', 'experiments/set-experiment-tag', { experiment_id: experimentId, key, value });
  }

  /**
   * Links datasets to a run as inputs. The server keeps one dataset per (experiment, name,
   * digest) and one input per (dataset, run), so a repeated call adds nothing.
   */
  async logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void> {
    await this.request('POST', 'runs/log-inputs', { run_id: runId, datasets });
  }

  async createRun(experimentId: string, runName: string, tags: readonly MlflowTag[], startTime: number) {
    const r = await this.request<{ run: MlflowRun }>('POST', 'runs/create', {
      experiment_id: experimentId,
      run_name: runName,
      start_time: startTime,
      tags,
    });
    return r.run;
  }

  async searchRuns(experimentIds: readonly string[], filter: string): Promise<MlflowRun[]> {
    const r = await this.request<{ runs?: MlflowRun[] }>('POST', 'runs/search', {
      experiment_ids: experimentIds,
      filter,
      max_results: 100,
    });
    return r.runs ?? [];
  }

  /**
   * Finds the run tagged `tagKey = tagValue` in the experiment or creates it: the way to create a
   * run idempotently when the caller may have crashed after an earlier create.
   */
  async ensureRun(
    experimentId: string,
    runName: string,
    tagKey: string,
    tagValue: string,
    tags: readonly MlflowTag[],
    startTime: number,
  ): Promise<MlflowRun> {
    const found = await this.searchRuns(
      [experimentId],
      `tags.\`${tagKey}\` = '${tagValue.replace(/'/g, "\\'")}'`,
    );
    if (found[0]) return found[0];
    return this.createRun(experimentId, runName, [{ key: tagKey, value: tagValue }, ...tags], startTime);
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const r = await this.request<{ run: MlflowRun }>('GET', `runs/get?run_id=${encodeURIComponent(runId)}`);
    return r.run;
  }

  async getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const out: MlflowMetric[] = [];
    let token: string | undefined;
    do {
      const q = `metrics/get-history?run_id=${encodeURIComponent(runId)}&metric_key=${encodeURIComponent(key)}&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`;
      const r = await this.request<{ metrics?: MlflowMetric[]; next_page_token?: string }>('GET', q);
      out.push(...(r.metrics ?? []));
      token = r.next_page_token || undefined;
    } while (token);
    return out;
  }

  /** Logs any number of metrics/params/tags, split into requests within the server's limits. */
  async logBatch(
    runId: string,
    batch: {
      metrics?: readonly MlflowMetric[];
      params?: readonly MlflowParam[];
      tags?: readonly MlflowTag[];
    },
  ): Promise<number> {
    const chunks = chunkBatch(batch.metrics ?? [], batch.params ?? [], batch.tags ?? []);
    for (const c of chunks) {
      if (c.metrics.length + c.params.length + c.tags.length === 0) continue;
      await this.request('POST', 'runs/log-batch', { run_id: runId, ...c });
    }
    return chunks.length;
  }

  async setTerminated(runId: string, status: RunStatus, endTime: number): Promise<void> {
    await this.request('POST', 'runs/update', { run_id: runId, status, end_time: endTime });
  }

  /**
   * Uploads one file into the run's artifact store through the proxy. The run's artifact URI must
   * be `mlflow-artifacts:/...` (the server runs with --serve-artifacts).
   */
  async uploadArtifact(
    run: MlflowRunInfo,
    relPath: string,
    data: Uint8Array,
    contentType?: string,
  ): Promise<void> {
    const prefix = 'mlflow-artifacts:/';
    if (!run.artifact_uri.startsWith(prefix)) {
      throw new MlflowError(
        `run ${run.run_id} stores artifacts at ${run.artifact_uri}, not through the artifact proxy (start mlflow server with --serve-artifacts)`,
        0,
      );
    }
    const base = run.artifact_uri.slice(prefix.length).replace(/^\/+/, '');
    const path = [...base.split('/'), ...relPath.split('/')].map(encodeURIComponent).join('/');
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': contentType ?? 'application/octet-stream' },
        body: new Blob([new Uint8Array(data)]),
        signal: AbortSignal.timeout(this.timeoutMs * 4),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!res.ok)
      throw new MlflowError(
        `MLflow artifact upload ${relPath}: ${res.status} ${await res.text()}`,
        res.status,
      );
  }

  async listArtifacts(
    runId: string,
    path = '',
  ): Promise<Array<{ path: string; is_dir: boolean; file_size?: number }>> {
    const r = await this.request<{ files?: Array<{ path: string; is_dir: boolean; file_size?: number }> }>(
      'GET',
      `artifacts/list?run_id=${encodeURIComponent(runId)}${path ? `&path=${encodeURIComponent(path)}` : ''}`,
    );
    return r.files ?? [];
  }

  // --- Model Registry (MLflow 3 REST: registered-models/*, model-versions/*) ---

  /** Creates the registered model; one that already exists is fine (a redelivery). */
  async ensureRegisteredModel(name: string, tags: readonly MlflowTag[] = []): Promise<void> {
    try {
      await this.request('POST', 'registered-models/create', { name, tags });
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') return;
      throw err;
    }
  }

  async getRegisteredModel(name: string): Promise<MlflowRegisteredModel> {
    const r = await this.request<{ registered_model: MlflowRegisteredModel }>(
      'GET',
      `registered-models/get?name=${encodeURIComponent(name)}`,
    );
    return r.registered_model;
  }

  /** The versions of `name` created from MLflow run `runId` (a run registers one version per name). */
  async findModelVersions(name: string, runId: string): Promise<MlflowModelVersion[]> {
    const q = (v: string) => `'${v.replace(/'/g, "\\'")}'`;
    const filter = `name = ${q(name)} and run_id = ${q(runId)}`;
    const r = await this.request<{ model_versions?: MlflowModelVersion[] }>(
      'GET',
      `model-versions/search?filter=${encodeURIComponent(filter)}&max_results=100`,
    );
    return r.model_versions ?? [];
  }

  async createModelVersion(v: {
    name: string;
    source: string;
    runId: string;
    tags?: readonly MlflowTag[];
    description?: string;
  }): Promise<MlflowModelVersion> {
    const r = await this.request<{ model_version: MlflowModelVersion }>('POST', 'model-versions/create', {
      name: v.name,
      source: v.source,
      run_id: v.runId,
      tags: v.tags ?? [],
      ...(v.description ? { description: v.description } : {}),
    });
    return r.model_version;
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.request('POST', 'registered-models/alias', { name, alias, version });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion> {
    const r = await this.request<{ model_version: MlflowModelVersion }>(
      'GET',
      `registered-models/alias?name=${encodeURIComponent(name)}&alias=${encodeURIComponent(alias)}`,
    );
    return r.model_version;
  }
}
