/**
 * The names of nodes and of what Stagecoach makes on Docker: committed histories, running containers and volumes
 * carry these exact strings, so they must not drift.
 */
import { describe, expect, it } from 'vitest';
import { nodeEffectKey } from '../../src/shared/ids';
import {
  AUTHOR_NODE, LABEL, LOAD_BALANCER_NODE, containerName, dispatcherNodeName, environmentNodeNames, executionImageTag, labelFilter,
  networkName, pairMemberName, pairName, pairNumber, parsePairName, publishNodeName, testContainerName, volumeName,
} from '../../src/topology/names';

describe('node names', () => {
  it('names the author, the load balancer, each pair and its two nodes', () => {
    expect([AUTHOR_NODE, LOAD_BALANCER_NODE]).toEqual(['author', 'lb']);
    expect([publishNodeName(2), dispatcherNodeName(2), pairName(2)]).toEqual(['publish-2', 'dispatcher-2', 'pair-2']);
    expect(pairMemberName('dispatcher', 12)).toBe('dispatcher-12');
  });

  it('reads the pair back out of a pair, publish or dispatcher name, and nothing out of other names', () => {
    expect(parsePairName('pair-3')).toEqual({ kind: 'pair', pair: 3 });
    expect(parsePairName('publish-10')).toEqual({ kind: 'publish', pair: 10 });
    expect(parsePairName('dispatcher-1')).toEqual({ kind: 'dispatcher', pair: 1 });
    expect(['pair-1', 'publish-2', 'dispatcher-3'].map(pairNumber)).toEqual([1, 2, 3]);
    expect(['author', 'lb', 'pair-', 'pair-x', 'publish-1a', 'xpublish-1', 'dispatcher'].map(pairNumber)).toEqual(Array(7).fill(undefined));
  });

  it('lists an environment\'s nodes: the author, then each pair\'s publish and dispatcher', () => {
    expect(environmentNodeNames({ pairs: 2 })).toEqual(['author', 'publish-1', 'dispatcher-1', 'publish-2', 'dispatcher-2']);
    expect(environmentNodeNames({ pairs: 0 })).toEqual(['author']);
  });
});

describe('names on Docker', () => {
  it('names an environment\'s network and its nodes\' containers after the pipeline and the environment', () => {
    expect(networkName('shop', 'prod')).toBe('sc-shop-prod');
    expect(containerName('shop', 'prod', 'publish-1')).toBe('sc-shop-prod-publish-1');
    expect(containerName('shop', 'stage', LOAD_BALANCER_NODE)).toBe('sc-shop-stage-lb');
    expect(testContainerName('shop', 'stage', 'ui', '7')).toBe('sc-shop-stage-ui-tests-7');
  });

  it('names a mount\'s volume after its node and its path, in the characters Docker allows', () => {
    expect(volumeName('shop', 'prod', 'publish-1', '/var/www/media')).toBe('sc-shop-prod-publish-1-var-www-media');
    expect(volumeName('shop', 'prod', 'author', '/data/')).toBe('sc-shop-prod-author-data');
    expect(volumeName('shop', 'prod', 'author', '/a b/c.d_e')).toBe('sc-shop-prod-author-a-b-c.d_e');
  });

  it('tags an execution\'s images with the commit\'s first 12 characters and the execution', () => {
    const commit = '0123456789abcdef0123';
    expect(executionImageTag('stagecoach/shop', 'app', commit, '4')).toBe('stagecoach/shop:0123456789ab-4');
    expect(executionImageTag('stagecoach/shop', 'dispatcher', commit, '4')).toBe('stagecoach/shop-dispatcher:0123456789ab-4');
    expect(executionImageTag('stagecoach/shop', 'functional', commit, '4')).toBe('stagecoach/shop-functional-tests:0123456789ab-4');
  });

  it('keeps the label keys containers, volumes and images already carry', () => {
    expect(LABEL).toMatchObject({
      pipeline: 'stagecoach.pipeline', environment: 'stagecoach.environment', node: 'stagecoach.node', deployKey: 'stagecoach.deploy-key',
      previousImage: 'stagecoach.previous-image', filesystem: 'stagecoach.filesystem', mount: 'stagecoach.mount',
      configHash: 'stagecoach.config-hash', buildHooks: 'stagecoach.hooks.build',
    });
    expect(labelFilter(LABEL.pipeline, 'shop')).toBe('stagecoach.pipeline=shop');
  });
});

describe('names unique per execution run (issue 16, item 1)', () => {
  it('image tags and effect keys carry the execution run, so a restarted numbering never meets the old ones', () => {
    const first = executionImageTag('sample-app', 'app', 'a'.repeat(40), '1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    const second = executionImageTag('sample-app', 'app', 'a'.repeat(40), '1', '0190ffff-0000-7e5f-8a9b-0c1d2e3f4a5b');
    expect(first).toBe('sample-app:aaaaaaaaaaaa-1-0190a1b2');
    expect(second).not.toBe(first);
    expect(executionImageTag('sample-app', 'app', 'a'.repeat(40), '1')).toBe('sample-app:aaaaaaaaaaaa-1');
    const key = (run?: string) => nodeEffectKey({ pipelineId: 'sample', executionId: '1', run, environmentType: 'prod', node: 'pair-1', effect: 'replace' });
    expect(key('run-a')).toBe('sample/1@run-a/prod/pair-1/replace');
    expect(key('run-a')).not.toBe(key('run-b'));
    expect(key()).toBe('sample/1/prod/pair-1/replace');
  });
});
