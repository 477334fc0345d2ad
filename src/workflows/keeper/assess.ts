/**
 * What one check makes of an inspection: each node's condition against the release (pure, so the keeper's tests can
 * state it plainly). A missing, stopped or drifted container needs a heal at once; a failed health check or a server
 * out of service in HAProxy only on the second check in a row, so a blip never replaces a node.
 */
import type { EnvironmentInspection } from '../../activities/keeper';
import type { KeeperNodeState, KeeperRelease, NodeCondition } from '../../shared/keeper';
import { AUTHOR_NODE, dispatcherNodeName, pairName, publishNodeName } from '../../topology/names';

/** Conditions a heal answers (a node `suspect` gets one more look first; a `failing` one is left alone). */
export const NEEDS_HEAL: readonly NodeCondition[] = ['lost', 'stopped', 'drifted', 'unhealthy', 'out-of-service'];

/** The nodes a release put on the environment: its author (when the release has the app's image), then each pair. */
export function releaseNodes(release: KeeperRelease): string[] {
  const pairs = Array.from({ length: release.environment.pairs }, (_, i) => pairName(i + 1));
  return release.images.app ? [AUTHOR_NODE, ...pairs] : pairs;
}

const short = (image: string) => image.replace(/^sha256:/, '').slice(0, 12);

/** The containers of a node (`author`, or a pair's publish then dispatcher), each with the image the release put there. */
function containersOf(release: KeeperRelease, node: string): Array<{ name: string; image?: string }> {
  if (node === AUTHOR_NODE) return [{ name: AUTHOR_NODE, image: release.images.app }];
  const pair = Number(node.slice('pair-'.length));
  return [{ name: publishNodeName(pair), image: release.images.app }, { name: dispatcherNodeName(pair), image: release.images.dispatcher }];
}

/** Why a node needs attention now (undefined: healthy), before the second-look rule. */
function problemOf(release: KeeperRelease, inspection: EnvironmentInspection, node: string): { condition: NodeCondition; detail: string } | undefined {
  for (const { name, image } of containersOf(release, node)) {
    const c = inspection.containers.find((x) => x.node === name);
    if (!c?.present) return { condition: 'lost', detail: `${name} has no container` };
    if (!c.running) return { condition: 'stopped', detail: `${name} is not running` };
    if (image && c.image !== image) return { condition: 'drifted', detail: `${name} runs ${short(c.image ?? '?')}, the release ${short(image)}` };
  }
  for (const { name } of containersOf(release, node)) {
    const health = inspection.containers.find((x) => x.node === name)?.health;
    if (health && !health.ok) return { condition: 'unhealthy', detail: `${name} failed its health check: ${health.detail}` };
  }
  if (node !== AUTHOR_NODE && inspection.servers) {
    const status = inspection.servers.find((s) => s.server === node)?.status ?? 'absent';
    if (!/^UP\b/.test(status)) return { condition: 'out-of-service', detail: `HAProxy reports ${node} ${status}` };
  }
  return undefined;
}

/**
 * Each node's condition after this check. `previous` is what the last check said: a node marked `failing` stays so
 * until it is healthy again (or a new release clears the marks); `unhealthy` and `out-of-service` need two checks.
 */
export function assessNodes(release: KeeperRelease, inspection: EnvironmentInspection, previous: readonly KeeperNodeState[], at: string): KeeperNodeState[] {
  return releaseNodes(release).map((name) => {
    const before = previous.find((n) => n.name === name)?.condition;
    const problem = problemOf(release, inspection, name);
    if (!problem) return { name, condition: 'healthy', checkedAt: at };
    if (before === 'failing') return { name, condition: 'failing', detail: problem.detail, checkedAt: at };
    const secondLook = problem.condition === 'unhealthy' || problem.condition === 'out-of-service';
    const seenBefore = before === 'suspect' || before === 'unhealthy' || before === 'out-of-service';
    return { name, condition: secondLook && !seenBefore ? 'suspect' : problem.condition, detail: problem.detail, checkedAt: at };
  });
}
