/**
 * The load balancer's containers as data (issue 16, changes without downtime): the holder owns the ports and the
 * network identity, each HAProxy container joins it and takes the listening sockets over, and the configuration
 * carries what a hand-over needs (the unix socket with the listeners, the server state, a soft stop that closes no
 * idle connection).
 */
import { describe, expect, it } from 'vitest';
import { haproxyContainerSpec, holderContainerSpec, holderIdentity } from '../../src/activities/load-balancer-container';
import { environmentHaproxyConfig } from '../../src/activities/topology';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { HAPROXY_HANDOVER_SOCKET, HAPROXY_RUN_DIR, HAPROXY_SERVER_STATE_FILE, renderHaproxyConfig } from '../../src/topology/haproxy-config';
import { LABEL, LOAD_BALANCER_PROCESS, loadBalancerProcessNode, loadBalancerRunVolume } from '../../src/topology/names';

const prod = (overrides: Record<string, unknown> = {}) =>
  parsePipelineConfig({ id: 'shop', repository: '/r', environments: { prod: { pairs: 2, ...overrides } } }).environments.prod;
const target = (overrides: Record<string, unknown> = {}) => ({ pipelineId: 'shop', environment: prod(overrides) });
const labels = { [LABEL.pipeline]: 'shop', [LABEL.environment]: 'prod' };

describe('the HAProxy configuration for hand-overs', () => {
  const servers = [{ name: 'pair-1', host: 'dispatcher-1', port: 80 }];

  it('exposes the listeners on a unix socket in the shared run directory, and starts from a server state file', () => {
    const cfg = renderHaproxyConfig({ servers });
    expect(HAPROXY_HANDOVER_SOCKET.startsWith(`${HAPROXY_RUN_DIR}/`)).toBe(true);
    expect(cfg).toContain(`    stats socket ${HAPROXY_HANDOVER_SOCKET} mode 600 level admin expose-fd listeners`);
    expect(cfg).toContain(`    server-state-file ${HAPROXY_SERVER_STATE_FILE}`);
    // In defaults, so the backend loads it; the runtime API's own socket stays apart, behind the TLS listener.
    expect(cfg).toMatch(/\ndefaults\n(?: {4}.*\n)* {4}load-server-state-from-file global\n/);
    expect(cfg).toContain(`    stats socket ${HAPROXY_RUN_DIR}/admin.sock mode 600 level admin\n`);
    expect(cfg).not.toMatch(/stats socket ipv4@/);
  });

  it('stops softly without closing idle connections, bounded by the longest request it may hold', () => {
    const cfg = renderHaproxyConfig({ servers });
    expect(cfg).toContain('    hard-stop-after 30s\n');
    expect(cfg).toMatch(/\ndefaults\n(?: {4}.*\n)* {4}option idle-close-on-response\n/);
    const holding = renderHaproxyConfig({ servers, maintenanceHold: { maxMs: 90_000 } });
    expect(holding).toContain('hard-stop-after 120s');
    expect(holding).toContain('timeout client 120s');
  });

  it('has one server per configured pair, named as names.ts names pairs', () => {
    expect(environmentHaproxyConfig(prod({ pairs: 3 })).match(/^ {4}server (pair-\d) dispatcher-\d:80 /gm)?.map((l) => l.split(' ')[5]))
      .toEqual(['pair-1', 'pair-2', 'pair-3']);
  });
});

describe('the holder and the HAProxy containers', () => {
  it('the holder is the lb node: the address, name and published ports, and only sleep', () => {
    const spec = holderContainerSpec(target({ loadBalancerPort: 18081, subnet: '10.213.1.0/24' }), 'sha256:lb', labels, 'h');
    expect(spec).toMatchObject({
      name: 'sc-shop-prod-lb', Image: 'sha256:lb', Entrypoint: ['sleep', 'infinity'],
      Labels: { ...labels, [LABEL.node]: 'lb', [LABEL.configHash]: 'h' },
      HostConfig: {
        NetworkMode: 'sc-shop-prod',
        PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18081' }], '9999/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      },
      NetworkingConfig: { EndpointsConfig: { 'sc-shop-prod': { Aliases: ['lb'], IPAMConfig: { IPv4Address: '10.213.1.2' } } } },
    });
  });

  it('an HAProxy container joins the holder, mounts the run volume, takes the sockets over, and publishes nothing', () => {
    const name = `sc-shop-prod-${loadBalancerProcessNode('abc123')}`;
    const spec = haproxyContainerSpec(target(), { name, image: 'sha256:lb', config: 'global\n', configHash: 'abc123', env: ['HAPROXY_RUNTIME_API_PEM=pem'], labels });
    expect(spec).toEqual({
      name: 'sc-shop-prod-lb-haproxy-abc123', Image: 'sha256:lb', Env: ['HAPROXY_CFG=global\n', 'HAPROXY_RUNTIME_API_PEM=pem'], Cmd: ['-x', HAPROXY_HANDOVER_SOCKET],
      Labels: { ...labels, [LABEL.node]: LOAD_BALANCER_PROCESS, [LABEL.configHash]: 'abc123' },
      HostConfig: {
        NetworkMode: 'container:sc-shop-prod-lb',
        Mounts: [{ Type: 'volume', Source: loadBalancerRunVolume('shop', 'prod'), Target: HAPROXY_RUN_DIR }],
        RestartPolicy: { Name: 'always' },
      },
    });
    expect(loadBalancerRunVolume('shop', 'prod')).toBe('sc-shop-prod-lb-run');
  });

  it('only what the holder owns makes a new holder: its port or its network, never the pairs or the image', () => {
    expect(holderIdentity(target({ pairs: 3 }))).toBe(holderIdentity(target()));
    expect(holderIdentity(target({ strategy: 'maintenance' }))).toBe(holderIdentity(target()));
    expect(holderIdentity(target({ loadBalancerPort: 18081 }))).not.toBe(holderIdentity(target()));
    expect(holderIdentity(target({ subnet: '10.213.1.0/24' }))).not.toBe(holderIdentity(target()));
  });
});
