/**
 * The real Stagecoach worker as a child process the fault suite can SIGKILL. Faults come from the environment:
 *   FAULT_KILL_AFTER=<activityType>[@<value>...]   kill -9 this process right after the next completion of that
 *                                     activity (whose input holds every @value, e.g. setServerState@pair-2@drain),
 *                                     before Temporal hears of it: the effect happened, and the retry must not double it
 *   FAULT_KILL_DURING=<activityType>[@<value>...]@<ms>ms   kill -9 this process <ms> after such an activity started,
 *                                     while it runs (a value `key=n` matches a number, e.g. flushCache@prod@pair=2@5ms);
 *                                     one that ends sooner is killed as it ends, still before Temporal hears of it
 *   FAULT_KILL_ON_DOCKER=<action>[@<attribute>=<value>...][@~<text>]   kill -9 this process the moment Docker's live
 *                                     event stream reports that container action (destroy, create, start, exec_start)
 *                                     for a container whose attributes (labels, name) match and whose event mentions
 *                                     <text>: e.g. destroy@stagecoach.node=publish-2 lands between removing the old
 *                                     container and creating the new one, exec_start@~stagecoach-exec: inside a hook
 *   FAULT_DOCKER_KILL_AFTER=<activityType>:<node>   after that activity first completes for that node, remove its
 *                                     container from outside (docker rm -f), as a lost machine would (a plain kill
 *                                     is undone by the container's restart policy, which is self-healing, not a fault)
 *   FAULT_STANDBY=1                   load and connect, then wait for a line on stdin before taking work
 * Every other setting is the worker's own (TEMPORAL_ADDRESS, STAGECOACH_PIPELINES_DIR, STAGECOACH_STATE_DIR,
 * STAGECOACH_WORKFLOW_BUNDLE).
 */
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import Docker from 'dockerode';
import { connectionSettings, createWorker } from '../../src/worker';
import { followDockerEvents } from './docker-events';

const [killAfter, ...killMatch] = (process.env.FAULT_KILL_AFTER ?? '').split('@');
const [killDuring, ...duringParts] = (process.env.FAULT_KILL_DURING ?? '').split('@');
const duringMs = Number((duringParts.pop() ?? '').replace(/ms$/, ''));
const [dockerAction, ...dockerMatch] = (process.env.FAULT_KILL_ON_DOCKER ?? '').split('@');
const [dockerKillActivity, dockerKillNode] = (process.env.FAULT_DOCKER_KILL_AFTER ?? '').split(':');

/** The outside removal happens once, as one lost machine: the rollback's own redeploy of the node must succeed. */
let dockerKillDone = false;

function die(why: string): Promise<never> {
  process.stdout.write(`[fault] SIGKILL ${why}\n`);
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => undefined); // never report the completion
}

/** Whether an activity's input holds every value: `"v"` as a string, or `key=n` as `"key":n`. */
function inputMatches(input: unknown, values: string[]): boolean {
  const text = JSON.stringify(input ?? {});
  return values.every((v) => {
    const [key, value] = v.split('=');
    return value === undefined ? text.includes(`"${v}"`) : text.includes(`"${key}":${value}`) || text.includes(`"${key}":"${value}"`);
  });
}

class FaultInjector implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const type = Context.current().info.activityType;
    const during = killDuring && type === killDuring && inputMatches(input.args[0], duringParts);
    const started = Date.now();
    const timer = during ? setTimeout(() => void die(`during ${type}, ${Date.now() - started} ms after it started`), duringMs) : undefined;
    let result: unknown;
    let failure: unknown;
    try {
      result = await next(input);
    } catch (err) {
      failure = err;
    }
    if (during) {
      clearTimeout(timer);
      await die(`at the end of ${type}, which ended ${Date.now() - started} ms after it started (before ${duringMs} ms)`);
    }
    if (failure) throw failure;
    if (killAfter && type === killAfter && inputMatches(input.args[0], killMatch)) await die(`after ${type}`);
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

/** Subscribes to Docker's live events before the worker takes work, and dies at the first one that matches. */
async function armDockerEventKill(): Promise<void> {
  if (!dockerAction) return;
  await followDockerEvents(new Docker(), { type: ['container'] }, (event) => {
    // An exec's action carries its command: "exec_start: sh -c ...".
    if (event.Action.split(':')[0] !== dockerAction) return;
    const matches = dockerMatch.every((m) => m.startsWith('~')
      ? event.Action.includes(m.slice(1)) || (event.Actor.Attributes.name ?? '').includes(m.slice(1))
      : event.Actor.Attributes[m.split('=')[0]] === m.split('=').slice(1).join('='));
    if (matches) void die(`on Docker's ${dockerAction} of ${event.Actor.Attributes.name}`);
  });
}

async function main() {
  const { connectionOptions, namespace } = connectionSettings();
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await createWorker({
    connection, namespace, identity: `fault-worker-${process.pid}`,
    interceptors: { activity: [() => ({ inbound: new FaultInjector() })] },
  });
  if (process.env.FAULT_STANDBY) {
    // Loaded and connected; takes work (and arms its faults) once the lab says so on stdin.
    process.stdout.write(`[worker] standby pid ${process.pid}\n`);
    await new Promise((resolve) => process.stdin.once('data', resolve));
  }
  await armDockerEventKill();
  process.stdout.write(`[worker] ready pid ${process.pid}\n`);
  await worker.run();
  await connection.close();
}

main().catch((err: Error) => {
  process.stderr.write(`[worker] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
