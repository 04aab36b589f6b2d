import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { installRuntime } from '../../platform/worker.ts';
import { services, token } from '../helpers/services.ts';
import { pingWorkflow } from './ping-workflow.ts';

describe('Temporal dev server', () => {
  it('executes a workflow with one activity on a real worker', async () => {
    installRuntime();
    const address = services().temporalAddress;
    const taskQueue = `test-ping-${token()}`;
    let attempts = 0;
    const connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./ping-workflow.ts', import.meta.url)),
      activities: {
        async ping(name: string) {
          // Fails once, so the retry policy is exercised too.
          if (++attempts === 1) throw new Error('transient');
          return `pong ${name}`;
        },
      },
    });
    const client = new Client({ connection: await Connection.connect({ address }) });
    const result = await worker.runUntil(
      client.workflow.execute(pingWorkflow, {
        taskQueue,
        workflowId: `ping-${token()}`,
        args: ['nucleiflow'],
      }),
    );
    expect(result).toBe('workflow got: pong nucleiflow');
    expect(attempts).toBe(2);
    await client.connection.close();
    await connection.close();
  });
});
