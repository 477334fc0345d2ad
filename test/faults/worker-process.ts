/**
 * The real Stagecoach worker as a child process the fault suite can SIGKILL. Faults come from the environment:
 *   FAULT_KILL_AFTER=<activityType>[@<value>...]   kill -9 this process right after the next completion of that
 *                                     activity (whose input holds every @value, e.g. setServerState@pair-2@drain),
 *                                     before Temporal hears of it: the effect happened, and the retry must not double it
 *   FAULT_DOCKER_KILL_AFTER=<activityType>:<node>   after that activity first completes for that node, remove its
 *                                     container from outside (docker rm -f), as a lost machine would (a plain kill
 *                                     is undone by the container's restart policy, which is self-healing, not a fault)
 * Every other setting is the worker's own (TEMPORAL_ADDRESS, STAGECOACH_PIPELINES_DIR, STAGECOACH_STATE_DIR,
 * STAGECOACH_WORKFLOW_BUNDLE).
 */
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import Docker from 'dockerode';
import { connectionSettings, createWorker } from '../../src/worker';

const [killAfter, ...killMatch] = (process.env.FAULT_KILL_AFTER ?? '').split('@');
const [dockerKillActivity, dockerKillNode] = (process.env.FAULT_DOCKER_KILL_AFTER ?? '').split(':');

/** The outside removal happens once, as one lost machine: the rollback's own redeploy of the node must succeed. */
let dockerKillDone = false;

class FaultInjector implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const result = await next(input);
    const type = Context.current().info.activityType;
    const input0 = JSON.stringify(input.args[0] ?? {});
    if (killAfter && type === killAfter && killMatch.every((v) => input0.includes(`"${v}"`))) {
      process.stdout.write(`[fault] SIGKILL after ${type}\n`);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined); // never report the completion
    }
    const node = (input.args[0] as { node?: string } | undefined)?.node;
    if (dockerKillActivity && !dockerKillDone && type === dockerKillActivity && node === dockerKillNode) {
      dockerKillDone = true;
      const container = (result as { container?: string }).container;
      if (container) {
        process.stdout.write(`[fault] docker rm -f ${container}\n`);
        await new Docker().getContainer(container).remove({ force: true }).catch(() => undefined);
      }
    }
    return result;
  }
}

async function main() {
  const { connectionOptions, namespace } = connectionSettings();
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await createWorker({
    connection, namespace, identity: `fault-worker-${process.pid}`,
    interceptors: { activity: [() => ({ inbound: new FaultInjector() })] },
  });
  process.stdout.write(`[worker] ready pid ${process.pid}\n`);
  await worker.run();
  await connection.close();
}

main().catch((err: Error) => {
  process.stderr.write(`[worker] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
