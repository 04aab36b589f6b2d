// Reads a workflow's history from Temporal and measures what the worker's event loop did to it:
// every workflow task's started -> completed time, and the tasks and activities that timed out.
import type { Client } from '@temporalio/client';

/** temporal.api.enums.v1.EventType values (the proto package is not a direct dependency). */
const ET = {
  EVENT_TYPE_WORKFLOW_TASK_STARTED: 6,
  EVENT_TYPE_WORKFLOW_TASK_COMPLETED: 7,
  EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: 8,
  EVENT_TYPE_WORKFLOW_TASK_FAILED: 9,
  EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: 10,
  EVENT_TYPE_ACTIVITY_TASK_STARTED: 11,
  EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: 14,
} as const;

export interface WorkflowTaskStats {
  readonly workflowId: string;
  /** Started -> completed of each workflow task, ms, in history order. */
  readonly taskMs: number[];
  readonly workflowTaskTimeouts: number;
  readonly workflowTaskFailures: number;
  /** Activity timeouts of any kind (heartbeat, start-to-close, ...), with their activity type. */
  readonly activityTimeouts: string[];
  /** Heartbeat timeouts recorded in a retried activity's last failure (they leave no TIMED_OUT event). */
  readonly heartbeatTimeoutsInRetries: number;
}

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

export async function workflowTaskStats(client: Client, workflowId: string): Promise<WorkflowTaskStats> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const taskMs: number[] = [];
  const activityType = new Map<string, string>();
  const activityTimeouts: string[] = [];
  let started: number | undefined;
  let workflowTaskTimeouts = 0;
  let workflowTaskFailures = 0;
  let heartbeatTimeoutsInRetries = 0;
  for (const e of events) {
    const t = ms(e.eventTime);
    switch (e.eventType) {
      case ET.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        started = t;
        break;
      case ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        if (started !== undefined) taskMs.push(t - started);
        started = undefined;
        break;
      case ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        workflowTaskTimeouts++;
        break;
      case ET.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        workflowTaskFailures++;
        break;
      case ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activityType.set(
          String(e.eventId),
          e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
        );
        break;
      case ET.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        if (a?.lastFailure?.timeoutFailureInfo) heartbeatTimeoutsInRetries++;
        break;
      }
      case ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const id = String(e.activityTaskTimedOutEventAttributes?.scheduledEventId ?? '');
        activityTimeouts.push(activityType.get(id) ?? id);
        break;
      }
    }
  }
  return {
    workflowId,
    taskMs,
    workflowTaskTimeouts,
    workflowTaskFailures,
    activityTimeouts,
    heartbeatTimeoutsInRetries,
  };
}

/** The SDK's own log lines (core's `WARN`/`ERROR` with their module path, or the TS SDK's `[WARN]`). */
export function sdkLogLines(text: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: core colours its lines with ANSI escapes
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  return plain
    .split('\n')
    .filter((l) =>
      /\b(WARN|ERROR)\b.*temporal|TMPRL\d{4}|^\s*\d{4}-\d\d-\d\dT\S+\s+\[(WARN|ERROR)\]/.test(l),
    );
}
