// A one-activity workflow for the Temporal foundation test.
import { proxyActivities } from '@temporalio/workflow';

export interface PingActivities {
  ping(name: string): Promise<string>;
}

const { ping } = proxyActivities<PingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, initialInterval: '100ms' },
});

export async function pingWorkflow(name: string): Promise<string> {
  return `workflow got: ${await ping(name)}`;
}
