/**
 * Placement of nodes on Docker Engines: which engine each node runs on, the fixed addresses nodes get in a declared
 * subnet, HAProxy's view of a pair on another engine, and the configuration errors that name what to fix.
 */
import { describe, expect, it } from 'vitest';
import { InvalidPipelineConfigError, parsePipelineConfig } from '../../src/config/pipeline-config';
import { environmentHaproxyConfig } from '../../src/activities/topology';
import {
  dispatcherAddress, dynamicRange, engineOf, enginesInUse, fixedAddress, gatewayAddress, loadBalancerAddress, parseSubnet,
  placementLabel, publishAddress, publishNodeAddress, subnetContains,
} from '../../src/topology/placement';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import Docker from 'dockerode';

const RACK_B = { protocol: 'ssh', host: '10.0.0.7', username: 'deploy' };
const prod = (overrides: Record<string, unknown>) =>
  parsePipelineConfig({ id: 'p', repository: '/r', environments: { prod: { pairs: 3, ...overrides } } }).environments.prod;
const problems = (overrides: Record<string, unknown>): string[] => {
  try {
    prod(overrides);
  } catch (err) {
    if (err instanceof InvalidPipelineConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('placement', () => {
  const spanning = prod({
    subnet: '10.213.1.0/24',
    engines: { 'rack-b': { docker: RACK_B, subnet: '10.213.2.0/24' }, unused: { docker: { socketPath: '/run/x.sock' }, subnet: '10.213.3.0/24' } },
    placement: { author: 'rack-b', 'pair-3': 'rack-b' },
  });

  it('puts each node on its engine: a pair as a whole, everything else on the environment\'s own', () => {
    expect(engineOf(spanning, 'author')).toEqual({ name: 'rack-b', docker: RACK_B, subnet: '10.213.2.0/24' });
    expect(engineOf(spanning, 'publish-3').name).toBe('rack-b');
    expect(engineOf(spanning, 'dispatcher-3').name).toBe('rack-b');
    expect(engineOf(spanning, 'dispatcher-1')).toEqual({ name: 'default', docker: undefined, subnet: '10.213.1.0/24' });
    expect(engineOf(spanning, 'lb').name).toBe('default');
    // Only the engines placement uses are prepared (and checked).
    expect(enginesInUse(spanning).map((e) => e.name)).toEqual(['default', 'rack-b']);
    expect(enginesInUse(prod({})).map((e) => e.name)).toEqual(['default']);
  });

  it('places a single node too: its own key wins over its pair\'s, and a dispatcher reaches a publish elsewhere by address', () => {
    const split = prod({
      subnet: '10.213.1.0/24',
      engines: { 'rack-b': { docker: RACK_B, subnet: '10.213.2.0/24' }, 'rack-c': { docker: { socketPath: '/run/c.sock' }, subnet: '10.213.3.0/24' } },
      placement: { 'publish-1': 'rack-b', 'pair-2': 'rack-b', 'pair-3': 'rack-b', 'dispatcher-3': 'rack-c' },
    });
    expect(['publish-1', 'dispatcher-1', 'publish-2', 'dispatcher-2', 'publish-3', 'dispatcher-3'].map((n) => engineOf(split, n).name))
      .toEqual(['rack-b', 'default', 'rack-b', 'rack-b', 'rack-b', 'rack-c']);
    expect([1, 2, 3].map((pair) => publishNodeAddress(split, pair))).toEqual(['10.213.2.101', 'publish-2', '10.213.2.103']);
    expect([1, 2, 3].map((pair) => dispatcherAddress(split, pair))).toEqual(['dispatcher-1', '10.213.2.12', '10.213.3.13']);
    expect(['author', 'pair-1', 'pair-2', 'pair-3'].map((n) => placementLabel(split, n)))
      .toEqual([undefined, 'publish on rack-b, dispatcher on default', 'rack-b', 'publish on rack-b, dispatcher on rack-c']);
  });

  it('gives nodes fixed addresses below the range Docker hands out to anything else', () => {
    expect(['lb', 'author', 'dispatcher-1', 'dispatcher-64', 'publish-1', 'publish-64'].map((n) => fixedAddress('10.213.2.0/24', n)))
      .toEqual(['10.213.2.2', '10.213.2.3', '10.213.2.11', '10.213.2.74', '10.213.2.101', '10.213.2.164']);
    expect(dynamicRange('10.213.2.0/24')).toBe('10.213.2.192/26');
    expect(gatewayAddress('10.213.2.0/24')).toBe('10.213.2.1');
    expect([subnetContains('10.213.2.0/24', '10.213.2.164'), subnetContains('10.213.2.0/24', '10.213.3.1')]).toEqual([true, false]);
    expect(dynamicRange('10.40.0.0/16')).toBe('10.40.192.0/18');
    expect(fixedAddress('10.213.2.0/24', 'functional-tests')).toBeUndefined();
    expect(parseSubnet('10.213.2.1/24')).toBeUndefined();
  });

  it('HAProxy reaches a pair on another engine at its fixed address, a local one by name', () => {
    expect([1, 2, 3].map((pair) => dispatcherAddress(spanning, pair))).toEqual(['dispatcher-1', 'dispatcher-2', '10.213.2.13']);
    const cfg = environmentHaproxyConfig(spanning);
    expect(cfg).toMatch(/server pair-1 dispatcher-1:80 /);
    expect(cfg).toMatch(/server pair-3 10\.213\.2\.13:80 /);
    // Hooks in an author on another engine reach the site at the load balancer's fixed address.
    expect(loadBalancerAddress(spanning, engineOf(spanning, 'author'))).toBe('10.213.1.2');
    expect(loadBalancerAddress(spanning, engineOf(spanning, 'dispatcher-1'))).toBe('lb');
    // Nothing placed: the configuration HAProxy had before placement existed (so no load balancer is recreated).
    expect(environmentHaproxyConfig(prod({}))).toMatch(/server pair-3 dispatcher-3:80 /);
  });

  it('publishes ports on 127.0.0.1 unless an engine names its one address; where it publishes is not how it is reached', () => {
    expect(publishAddress(undefined)).toBe('127.0.0.1');
    expect(publishAddress({ ...RACK_B, protocol: 'ssh', publishAddress: '10.0.0.7' })).toBe('10.0.0.7');
    const local = new Docker();
    const provider = createDockerProvider(local);
    expect(provider({ publishAddress: '127.0.0.1' })).toBe(local);
    expect(provider({ socketPath: '/run/other.sock', publishAddress: '127.0.0.1' })).toBe(provider({ socketPath: '/run/other.sock' }));
    expect(problems({ docker: { publishAddress: '0.0.0.0' } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.docker\.publishAddress: one address, not every interface/)]);
    expect(problems({ docker: { publishAddress: 'rack-b.internal' } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.docker\.publishAddress: an IPv4 address/)]);
  });

  it('refuses a placement HAProxy could not reach, naming what to fix', () => {
    const engines = { 'rack-b': { docker: RACK_B, subnet: '10.213.2.0/24' } };
    expect(problems({ engines, placement: { 'pair-2': 'rack-b' } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.subnet: required once nodes run on other engines/)]);
    expect(problems({ subnet: '10.213.1.0/24', engines, placement: { 'pair-4': 'rack-b', 'publish-0': 'rack-b', lb: 'rack-b' } })).toEqual([
      expect.stringMatching(/^environments\.prod\.placement\.pair-4: there is no pair-4: this environment has pairs 1 … 3/),
      expect.stringMatching(/^environments\.prod\.placement\.publish-0: there is no publish-0/),
      expect.stringMatching(/^environments\.prod\.placement\.lb: "lb" is not a node: use "author", "pair-N" \(both nodes of a pair\), "publish-N" or "dispatcher-N", N from 1 to 3/),
    ]);
    expect(problems({ subnet: '10.213.1.0/24', engines, placement: { author: 'rack-c' } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.placement\.author: unknown engine "rack-c": declared engines are rack-b/)]);
    expect(problems({ subnet: '10.213.0.0/16', engines })).toEqual([expect.stringMatching(/^environments\.prod\.engines\.rack-b\.subnet: 10\.213\.2\.0\/24 overlaps 10\.213\.0\.0\/16/)]);
    expect(problems({ engines: { default: { docker: RACK_B, subnet: '10.213.2.0/24' } } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.engines\.default: "default" is the environment's own engine/)]);
    expect(problems({ subnet: '10.213.1.0/25' })).toEqual([expect.stringMatching(/^environments\.prod\.subnet: at least a \/24/)]);
    expect(problems({ subnet: '10.213.1.7/24' })).toEqual([expect.stringMatching(/^environments\.prod\.subnet: an IPv4 network/)]);
    expect(problems({ engines: { 'rack-b': { docker: {}, subnet: '10.213.2.0/24' } } }))
      .toEqual([expect.stringMatching(/^environments\.prod\.engines\.rack-b\.docker: the same engine as the environment's own docker/)]);
  });
});
