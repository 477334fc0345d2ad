/**
 * Version-sticky sessions as configuration (issue 19): the rules the load balancer gets, on by default, and the
 * version map's parsing. test/e2e/sticky-sessions.test.ts shows them working on a real HAProxy under load.
 */
import { describe, expect, it } from 'vitest';
import { parseMapEntries } from '../../src/activities/load-balancer';
import { environmentHaproxyConfig } from '../../src/activities/topology';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { HAPROXY_RUN_DIR, HAPROXY_VERSION_MAP, VERSION_COOKIE, VERSION_HEADER } from '../../src/topology/haproxy-config';

const prod = (overrides: Record<string, unknown> = {}) =>
  parsePipelineConfig({ id: 'shop', repository: '/r', environments: { prod: { pairs: 3, ...overrides } } }).environments.prod;
const backend = (cfg: string) => cfg.slice(cfg.indexOf('\nbackend dispatchers\n'));

describe('version-sticky sessions in the HAProxy configuration', () => {
  it('are on by default, and off with stickyVersions: false', () => {
    expect(prod().stickyVersions).toBe(true);
    expect(environmentHaproxyConfig(prod())).toContain(VERSION_COOKIE);
    const off = environmentHaproxyConfig(prod({ stickyVersions: false }));
    expect(off).not.toContain(VERSION_COOKIE);
    expect(off).not.toContain('use-server');
    expect(off).not.toContain(HAPROXY_VERSION_MAP);
  });

  it('read versions from a map in the run volume, so a new or restarted HAProxy loads what the worker last set', () => {
    expect(HAPROXY_VERSION_MAP.startsWith(`${HAPROXY_RUN_DIR}/`)).toBe(true);
    expect(backend(environmentHaproxyConfig(prod()))).toContain(`    http-request set-var(txn.version_pair_2) str(pair-2),map(${HAPROXY_VERSION_MAP})\n`);
  });

  it('send a cookie to a server of its version that is UP: the random pick first, then the first such server', () => {
    const lines = backend(environmentHaproxyConfig(prod())).split('\n').filter((l) => l.includes('use-server'));
    const serves = (n: number) => `{ var(txn.sticky_version),strcmp(txn.version_pair_${n}) eq 0 } { srv_is_up(dispatchers/pair-${n}) }`;
    expect(lines).toEqual([
      ...[1, 2, 3].map((n) => `    use-server pair-${n} if { var(txn.pick) -m int ${n - 1} } ${serves(n)}`),
      ...[1, 2, 3].map((n) => `    use-server pair-${n} if ${serves(n)}`),
    ]);
    expect(backend(environmentHaproxyConfig(prod()))).toContain('    http-request set-var(txn.pick) rand(3)\n');
  });

  it('set the cookie to the answering server\'s version, only when the visitor\'s does not say it already', () => {
    const cfg = backend(environmentHaproxyConfig(prod()));
    expect(cfg).toContain(`    http-response set-var(txn.served_version) srv_name,map(${HAPROXY_VERSION_MAP})\n`);
    expect(cfg).toMatch(new RegExp(`http-response add-header Set-Cookie "${VERSION_COOKIE}=%\\[var\\(txn.served_version\\)\\]; Path=/; HttpOnly; SameSite=Lax" ` +
      'if \\{ var\\(txn.served_version\\) -m found \\} !\\{ var\\(txn.served_version\\),strcmp\\(txn.sticky_version\\) eq 0 \\}'));
  });

  it('tell the dispatcher the version only when a server of it serves, never what the client sent', () => {
    const cfg = backend(environmentHaproxyConfig(prod()));
    const del = cfg.indexOf(`http-request del-header ${VERSION_HEADER}`);
    expect(del).toBeGreaterThan(0);
    expect(cfg.indexOf(`http-request set-header ${VERSION_HEADER}`)).toBeGreaterThan(del);
    expect(cfg.match(new RegExp(`set-header ${VERSION_HEADER} %\\[var\\(txn.sticky_version\\)\\] if .*srv_is_up`, 'g'))).toHaveLength(3);
  });
});

describe('the version map', () => {
  it('is read from `show map` as key and value, whatever else the answer holds', () => {
    expect(parseMapEntries('0x55d1c0 pair-1 ab12cd34ef56\n0x7f00aa pair-2 0123456789ab\n\n')).toEqual([['pair-1', 'ab12cd34ef56'], ['pair-2', '0123456789ab']]);
    expect(parseMapEntries('Unknown map identifier. Please use #<id> or <file>.\n')).toEqual([]);
  });
});
