/**
 * The environment keeper on real Docker, HAProxy and Varnish (issue 20): under a bounded load on 127.0.0.1, a
 * Production publish removed from outside is replaced within the keeper's interval plus one node cycle with 0 non-2xx,
 * from the image Production's last deployment released, while a newer build already runs on Stage; and Production is
 * scaled 2 → 3 → 2 pairs (through the HTTP API, then through the console in headless Chromium), with 0 non-2xx and no
 * gap of a second.
 */
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROME_FLAGS } from '../../src/activities/audit';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { provision } from '../../src/provision';
import { keeperWorkflowId } from '../../src/shared/ids';
import type { KeeperState } from '../../src/shared/keeper';
import { keeperStateQuery } from '../../src/shared/messages';
import { containerName, dispatcherNodeName, publishNodeName } from '../../src/topology/names';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';
import { startLoad, summarize } from '../helpers/load';
import { startTestApi, type TestApi } from '../helpers/test-api';
import { eventually } from '../helpers/wait';

const ID = 't-keeper';
const INTERVAL_MS = 5000;
let h: Harness;
let api: TestApi;
let browser: Browser;
const TOKENS = { alice: 'test-keeper-alice-dm-0001', carol: 'test-keeper-carol-dev-0002' } as const;
const config = () => testPipeline(ID, h.repo, { environments: {
  stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
  prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s', keeper: { enabled: true, interval: `${INTERVAL_MS}ms` } },
} });
const keeper = () => h.client.workflow.getHandle(keeperWorkflowId(ID, 'prod'));

beforeAll(async () => {
  const chromiumPath = (await provision({ docker: false, temporal: false, chromium: true, log: (l) => console.log(l) })).chromium!;
  h = await startHarness('keeper', [ID]);
  await h.writePipeline(config());
  api = await startTestApi(h, [
    { name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice },
    { name: 'carol', roles: ['DEVELOPER'], token: TOKENS.carol },
  ]);
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROME_FLAGS });
});
afterAll(async () => {
  await browser?.close();
  await api?.app.close();
  // A keeper never ends by itself: stopped first, so it cannot recreate what the harness then removes.
  await h?.client.workflow.getHandle(keeperWorkflowId(ID, 'prod')).terminate('test over').catch(() => undefined);
  await h?.close();
});

async function toApproval(): Promise<string> {
  const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
  const state = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
  expect(state.status, state.reason).toBe('RUNNING');
  return executionId;
}

async function waitForKeeper(what: string, until: (s: KeeperState) => boolean, timeoutMs = 120_000): Promise<KeeperState> {
  let last: KeeperState | undefined;
  try {
    return await eventually(what, async () => {
      last = await keeper().query(keeperStateQuery).catch(() => last);
      return last && until(last) ? last : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; keeper state: ${JSON.stringify(last)}`, { cause: err });
  }
}

describe('the keeper of a 2-pair Production', () => {
  let prodUrl: string;
  let appImage: string;

  it('a publish removed from outside is replaced from the released image under load, 0 non-2xx, while Stage runs a newer build', async () => {
    await syncSampleRepo(h.repo, '4.0.0');
    const first = await toApproval();
    await h.stagecoach.send(ID, first, 'approve', { by: 'alice' });
    await h.waitFor(ID, first, isWaitingAt('schedule'));
    await h.stagecoach.send(ID, first, 'schedule', { by: 'alice', now: true });
    const released = await h.waitFor(ID, first, hasEnded, 5 * 60_000);
    expect(released.status, released.reason).toBe('FINISHED');
    appImage = released.artifacts.images!.app.id;
    await waitForKeeper('the keeper to watch the release', (s) => s.status === 'WATCHING' && s.nodes.length === 3 && s.nodes.every((n) => n.condition === 'healthy'));

    // A newer build, deployed to Stage, waits for its approval: it was never released to Production.
    await syncSampleRepo(h.repo, '4.0.1');
    const newer = await toApproval();
    const newerImage = (await h.stagecoach.executionState(ID, newer)).artifacts.images!.app.id;
    expect(newerImage).not.toBe(appImage);

    prodUrl = released.urls.prod!;
    const load = startLoad(prodUrl, { maxSeconds: 150 });
    const removedAt = Date.now();
    await h.docker.getContainer(containerName(ID, 'prod', publishNodeName(2))).remove({ force: true });
    const healed = await waitForKeeper('the heal of pair-2', (s) => s.lastHeal?.outcome === 'healed' || s.lastHeal?.outcome === 'failed');
    const summary = summarize(await load.stop());

    expect(healed.lastHeal, JSON.stringify(healed.lastHeal)).toMatchObject({ node: 'pair-2', outcome: 'healed', reason: 'lost: publish-2 has no container' });
    // Found by the first check after the removal (at most one interval, plus that check's own inspection).
    expect(Date.parse(healed.lastHeal!.startedAt) - removedAt).toBeLessThan(INTERVAL_MS + 10_000);
    expect(summary.total).toBeGreaterThan(50);
    expect(summary).toMatchObject({ non2xx: 0, errors: 0, versions: ['4.0.0'] });
    const publish = await h.docker.getContainer(containerName(ID, 'prod', publishNodeName(2))).inspect();
    expect(publish.State.Running).toBe(true);
    expect(publish.Image).toBe(appImage);
    expect(healed.nodes.map((n) => [n.name, n.condition])).toEqual([['author', 'healthy'], ['pair-1', 'healthy'], ['pair-2', 'healthy']]);
    expect(healed.audit.filter((a) => a.what === 'heal')).toHaveLength(1);
    await h.stagecoach.send(ID, newer, 'cancel', { by: 'alice' });
    await h.waitFor(ID, newer, hasEnded);
  });

  it('a dispatcher stopped from outside is replaced too, under load, 0 non-2xx', async () => {
    const dispatcherImage = (await h.docker.getContainer(containerName(ID, 'prod', dispatcherNodeName(1))).inspect()).Image;
    const before = (await keeper().query(keeperStateQuery)).lastHeal!.id;
    const load = startLoad(prodUrl, { maxSeconds: 150 });
    await h.docker.getContainer(containerName(ID, 'prod', dispatcherNodeName(1))).stop({ t: 0 });
    const healed = await waitForKeeper('the heal of pair-1', (s) => s.lastHeal?.id !== before && (s.lastHeal?.outcome === 'healed' || s.lastHeal?.outcome === 'failed'));
    const summary = summarize(await load.stop());
    expect(healed.lastHeal, JSON.stringify(healed.lastHeal)).toMatchObject({ node: 'pair-1', outcome: 'healed', reason: 'stopped: dispatcher-1 is not running' });
    expect(summary).toMatchObject({ non2xx: 0, errors: 0, versions: ['4.0.0'] });
    const [dispatcher, publish] = await Promise.all([dispatcherNodeName(1), publishNodeName(1)].map((n) => h.docker.getContainer(containerName(ID, 'prod', n)).inspect()));
    expect([dispatcher.State.Running, dispatcher.Image, publish.Image]).toEqual([true, dispatcherImage, appImage]);
  });

  it('scales 2 → 3 (through the API) → 2 (through the console, in a browser) pairs under load: 0 non-2xx, no gap of a second, the new pair on the released image', async () => {
    const scaled = (pairs: number) => (s: KeeperState) =>
      s.audit.filter((a) => a.what === 'scale' && a.detail.includes(`→ ${pairs} pair(s)`) && !a.detail.startsWith('accepted')).length > 0 &&
      s.nodes.length === pairs + 1 && s.nodes.every((n) => n.condition === 'healthy');
    const keeperUrl = `${api.base}/api/program/1/pipeline/${ID}/keeper/prod`;
    const putScale = (who: keyof typeof TOKENS, pairs: number) => fetch(`${keeperUrl}/scale`, {
      method: 'PUT', body: JSON.stringify({ pairs }), headers: { authorization: `Bearer ${TOKENS[who]}`, 'content-type': 'application/json' },
    }).then(async (res) => ({ status: res.status, body: await res.json() as { message?: string; detail?: string } }));

    // The API's view is the keeper's state, with a scale link while it watches.
    const watched = await fetch(keeperUrl, { headers: { authorization: `Bearer ${TOKENS.carol}` } }).then((r) => r.json()) as KeeperState & { _links: Record<string, { href: string }> };
    expect(watched).toMatchObject({ status: 'WATCHING', nodes: [{ name: 'author', condition: 'healthy' }, { name: 'pair-1', condition: 'healthy' }, { name: 'pair-2', condition: 'healthy' }] });
    expect(watched._links.scale.href).toBe(`/api/program/1/pipeline/${ID}/keeper/prod/scale`);
    // A developer may read, not change Production's capacity: refused by the API's roles, nothing asked of the keeper.
    expect(await putScale('carol', 3)).toMatchObject({ status: 403, body: { detail: expect.stringMatching(/carol may not scale/) } });

    const load = startLoad(prodUrl, { maxSeconds: 240 });
    const marks: Array<[string, number]> = [['scale to 3', Date.now()]];
    expect(await putScale('alice', 3)).toMatchObject({ status: 202, body: { message: expect.stringMatching(/^alice \(declared\) scales .* from 2 to 3 pair\(s\)$/) } });
    // Another scale while this one runs is refused (412) and the keeper's log keeps the refusal with its reason.
    expect(await putScale('alice', 4)).toMatchObject({ status: 412, body: { detail: expect.stringMatching(/another scale runs/) } });
    await waitForKeeper('Production at 3 pairs', scaled(3), 180_000);
    marks.push(['at 3 pairs', Date.now()]);
    const publish3 = await h.docker.getContainer(containerName(ID, 'prod', publishNodeName(3))).inspect();
    expect([publish3.State.Running, publish3.Image]).toEqual([true, appImage]);

    // Back to 2 in the console: alice's keeper page shows each node's health and the last heal, and takes the scale.
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${api.base}/`);
    await page.getByLabel('API token').fill(TOKENS.alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
    await page.goto(`${api.base}/console/pipelines/${ID}`);
    await page.locator('li[data-keeper="prod"] a').click();
    await page.getByRole('heading', { name: /^Keeper of / }).waitFor();
    expect(await page.locator('tr[data-node] td:nth-child(2)').allInnerTexts()).toEqual(['healthy', 'healthy', 'healthy', 'healthy']);
    await expect(page.locator('[data-heal]').innerText()).resolves.toMatch(/^pair-1: healed \(stopped: dispatcher-1 is not running\)/);
    await expect(page.locator('li[data-what="refused"]').first().innerText()).resolves.toMatch(/scale to 4 pair\(s\) by alice: .*another scale runs/);
    marks.push(['scale to 2', Date.now()]);
    await page.getByLabel('Pairs').fill('2');
    await page.getByRole('button', { name: 'Scale' }).click();
    await expect(page.locator('.notice').innerText()).resolves.toMatch(/alice \(declared\) scales .* from 3 to 2 pair\(s\)/);
    await page.context().close();
    await waitForKeeper('Production back at 2 pairs', scaled(2), 180_000);
    marks.push(['at 2 pairs', Date.now()]);
    const samples = await load.stop();
    const summary = summarize(samples);
    expect(summary.total).toBeGreaterThan(50);
    expect(summary).toMatchObject({ non2xx: 0, errors: 0, versions: ['4.0.0'] });
    // Where the longest gap fell, against the scale's phases, so a failure says which change made it.
    const ok = samples.filter((x) => x.status !== undefined && x.status < 300);
    const gapEnd = ok.findIndex((x, i) => i > 0 && x.at - ok[i - 1].at === summary.maxGapMs);
    const where = `gap ended at +${ok[gapEnd]?.at - marks[0][1]} ms; ${marks.map(([what, at]) => `${what} +${at - marks[0][1]}`).join(', ')}`;
    expect(summary.maxGapMs, where).toBeLessThan(1000);
    await expect(h.docker.getContainer(containerName(ID, 'prod', publishNodeName(3))).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
