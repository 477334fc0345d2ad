/**
 * The console (issue 18) in a real browser (Debian's Chromium, headless, driven by playwright-core) against a real
 * stack: the API with its console on 127.0.0.1, a worker on the shared dev server, the executions on Docker. One
 * execution of a signed pipeline (the API signs each decision for its user), followed from its start to Production,
 * with assertions along it: carol signs in and starts it; its page follows Stage live (steps change without a
 * reload); she reads the build log and sees the Lighthouse scores; at the approval (two approvals needed) the console
 * offers her nothing to decide, and her approval, sent anyway, shows the workflow's reason; bob approves, and his second
 * approval is refused with the workflow's reason; alice approves and schedules now; the rollout reaches Production
 * node by node.
 * Then Lighthouse scores the console's own execution page. Screenshots of each page go to
 * .stagecoach/test-artifacts/console/ (STAGECOACH_STATE_DIR/test-artifacts/console).
 */
import fs from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { CHROME_FLAGS } from '../../src/activities/audit';
import { loadApiSigner } from '../../src/api/identity-signing';
import { buildApi } from '../../src/api/server';
import { generateKeyPair } from '../../src/client/identity';
import { STATE_DIR } from '../../src/config/paths';
import { provision } from '../../src/provision';
import { formatPublicKey } from '../../src/shared/identity';
import { startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = `t-console-${process.pid}`;
const ARTIFACTS = path.join(STATE_DIR, 'test-artifacts', 'console');
const TOKENS = { alice: 'test-console-alice-dm-0001', bob: 'test-console-bob-bo-0002', carol: 'test-console-carol-pm-0003' } as const;
type Who = keyof typeof TOKENS;

let h: Harness;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let chromiumPath: string;
const consoleErrors: string[] = [];

beforeAll(async () => {
  chromiumPath = (await provision({ docker: false, temporal: false, chromium: true, log: (l) => console.log(l) })).chromium!;
  await fs.rm(ARTIFACTS, { recursive: true, force: true });
  await fs.mkdir(ARTIFACTS, { recursive: true });
  h = await startHarness('console', [ID]);
  // Signed decisions: the API signs for the users it authenticated, as `stagecoach api` does.
  const identitySigner = await loadApiSigner(path.join(h.tmp, 'api-key'));
  await h.writePipeline(testPipeline(ID, h.repo, {
    identity: 'signed',
    people: [
      { name: 'alice', keys: [generateKeyPair('alice').publicKey], roles: ['DEPLOYMENT_MANAGER'] },
      { name: 'bob', keys: [generateKeyPair('bob').publicKey], roles: ['BUSINESS_OWNER'] },
      { name: 'carol', keys: [generateKeyPair('carol').publicKey], roles: ['PROGRAM_MANAGER'] },
    ],
    identityProviders: [{ name: 'api', keys: [formatPublicKey(identitySigner.publicKey)] }],
    environments: {
      stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
      prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    },
    approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }], required: 2 },
  }));
  app = buildApi({
    stagecoach: h.stagecoach, logger: false, identitySigner,
    artifactsDir: process.env.STAGECOACH_ARTIFACTS_DIR ?? path.join(h.tmp, 'state', 'artifacts'),
    tokens: {
      users: [
        { name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice },
        { name: 'bob', roles: ['BUSINESS_OWNER'], token: TOKENS.bob },
        // May start and advance in the API: what refuses her approval is the execution (she started it).
        { name: 'carol', roles: ['PROGRAM_MANAGER'], token: TOKENS.carol },
      ],
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROME_FLAGS });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await h?.close();
  if (h && !process.env.KEEP_TOPOLOGY) {
    for (const image of await h.docker.listImages({ filters: { label: [`stagecoach.pipeline=${ID}`] } })) {
      await h.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
});

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** A browser of its own for `who` (its own cookies), signed in through the sign-in page. */
async function signedIn(who: Who, opts: { shoot?: string } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${who}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${who}: ${e.message}`));
  await page.goto(`${base}/`);
  await page.waitForURL(/\/console\/sign-in$/);
  await page.getByLabel('API token').fill(TOKENS[who]);
  if (opts.shoot) await shot(page, opts.shoot);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
  return page;
}

/** Sends an action's form as a page still showing it would (the console no longer offers it): what the API answers. */
async function submitAnyway(page: Page, fields: Record<string, string>): Promise<string> {
  await Promise.all([
    page.waitForNavigation(),
    page.evaluate(`(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = location.pathname + '/actions';
      for (const [name, value] of Object.entries(${JSON.stringify(fields)})) form.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }));
      document.body.append(form);
      form.submit();
    })()`),
  ]);
  return page.locator('.notice').innerText();
}

const stepBadge = (page: Page, stepId: string) => page.locator(`#phases li[data-step="${stepId}"] .badge`);
const nodeBadge = (page: Page, node: string) => page.locator(`#rollout ol[data-environment="prod"] li[data-node="${node}"] .badge`);

describe('the console', () => {
  it('follows an execution live from its start to Production, with decisions made and refused in the page', async () => {
    const carol = await signedIn('carol', { shoot: '01-sign-in' });
    onTestFailed(async () => {
      await shot(carol, '99-failure').catch(() => undefined);
      await fs.writeFile(path.join(ARTIFACTS, '99-failure.html'), await carol.content()).catch(() => undefined);
    });
    await expect(carol.locator(`tr[data-pipeline="${ID}"]`).innerText()).resolves.toMatch(/idle/);
    await shot(carol, '02-pipelines');

    // Start from the pipeline's page; its execution page opens and follows the execution without reloading.
    await carol.getByRole('link', { name: ID, exact: true }).click();
    await carol.getByRole('heading', { name: `Pipeline ${ID}` }).waitFor();
    await shot(carol, '03-pipeline');
    await carol.getByRole('button', { name: 'Start an execution' }).click();
    await carol.waitForURL(/\/executions\/\d+$/);
    const executionUrl = carol.url();
    const executionId = executionUrl.split('/').pop()!;
    await carol.evaluate('window.sameDocument = true');
    // Live: the content audit (the slowest Stage step, seconds after the start) is not done when the page opens and is
    // shown finished in the same document later. A warm build can be over before the page's first update, so the
    // build's own "running" is not waited for: any step running is.
    await expect(stepBadge(carol, 'contentAudit').innerText()).resolves.not.toBe('finished');
    await carol.locator('#phases li[data-step] .badge').filter({ hasText: /^running$/ }).first().waitFor({ timeout: 120_000 });
    await shot(carol, '04-execution-building');
    await stepBadge(carol, 'build').filter({ hasText: /^finished$/ }).waitFor({ timeout: 8 * 60_000 });
    await stepBadge(carol, 'deploy-stage').filter({ hasText: /^(running|finished)$/ }).waitFor({ timeout: 5 * 60_000 });
    await stepBadge(carol, 'contentAudit').filter({ hasText: /^finished$/ }).waitFor({ timeout: 5 * 60_000 });
    await expect(carol.evaluate('window.sameDocument === true')).resolves.toBe(true);

    // The build log, in a page of its own, and downloadable.
    const logPage = await carol.context().newPage();
    await logPage.goto(`${executionUrl}/steps/build/log?file=build.log`);
    await expect(logPage.locator('pre.log').innerText()).resolves.toMatch(/# unit tests: \d+ passed, 0 failed/);
    const download = await logPage.getByRole('link', { name: 'Download build.log' }).getAttribute('href');
    const downloaded = await logPage.request.get(download!);
    expect(downloaded.status()).toBe(200);
    expect(await downloaded.text()).toMatch(/# unit tests:/);
    await shot(logPage, '05-build-log');
    await logPage.close();

    // At the approval: the Lighthouse scores of Stage, and nothing for carol to decide (she started the execution).
    await carol.locator('#actions').getByText(/Waiting at approval/).waitFor({ timeout: 10 * 60_000 });
    await expect(carol.evaluate('window.sameDocument === true')).resolves.toBe(true);
    const scores = carol.locator('#step-contentAudit table');
    await expect(scores.locator('tr[data-category="performance"] td').first().innerText()).resolves.toMatch(/^\d{1,3}$/);
    await expect(scores.locator('tr[data-category="accessibility"] td').first().innerText()).resolves.toMatch(/^\d{1,3}$/);
    await expect(carol.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
    await shot(carol, '06-execution-waiting-for-approval');
    expect(await submitAnyway(carol, { step: 'approval', action: 'approve' })).toMatch(/Refused: self-approval is not allowed: carol started execution/);
    await shot(carol, '07-refused-self-approval');

    // bob approves (one of two); his second approval is refused with the workflow's reason.
    const bob = await signedIn('bob');
    await bob.goto(executionUrl);
    await bob.getByRole('button', { name: 'Approve' }).click();
    await expect(bob.locator('.notice').innerText()).resolves.not.toMatch(/Refused/);
    await bob.locator('#actions').getByText(/Approvals: 1 of 2 \(bob\)/).waitFor();
    await expect(bob.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
    expect(await submitAnyway(bob, { step: 'approval', action: 'approve' })).toMatch(/Refused: bob has already approved; 2 distinct approvals are needed/);
    await shot(bob, '08-refused-second-approval');

    // alice approves and schedules now; the rollout reaches Production node by node.
    const alice = await signedIn('alice');
    await alice.goto(executionUrl);
    await alice.getByRole('button', { name: 'Approve' }).click();
    const scheduleNow = alice.getByRole('button', { name: 'Schedule now' });
    await scheduleNow.waitFor({ timeout: 60_000 });
    await expect(alice.locator('#actions [data-countdown]').first().innerText()).resolves.toMatch(/^in \d+ d/);
    await shot(alice, '09-waiting-for-schedule');
    await Promise.all([alice.waitForNavigation(), scheduleNow.click()]);
    // Every phase each Production node shows, in the order the page showed them.
    await alice.evaluate(`(() => {
      const seen = window.nodePhases = [];
      const record = () => {
        for (const li of document.querySelectorAll('#rollout ol[data-environment="prod"] li[data-node]')) {
          const entry = li.getAttribute('data-node') + ':' + (li.querySelector('.badge')?.textContent ?? '');
          if (!seen.includes(entry)) seen.push(entry);
        }
      };
      new MutationObserver(record).observe(document.getElementById('rollout'), { childList: true, subtree: true });
      record();
    })()`);
    await nodeBadge(alice, 'author').first().waitFor({ timeout: 60_000 });
    await shot(alice, '10-rolling-out');
    await alice.locator('#status .badge').filter({ hasText: /^finished$/ }).waitFor({ timeout: 5 * 60_000 });
    await expect(nodeBadge(alice, 'author').innerText()).resolves.toBe('done');
    await expect(nodeBadge(alice, 'pair-1').innerText()).resolves.toBe('done');
    const phases = await alice.evaluate('window.nodePhases') as string[];
    // The author is done before the pair leaves pending, and the page showed nodes between the two ends.
    expect(phases.indexOf('author:done'), phases.join(', ')).toBeGreaterThanOrEqual(0);
    expect(phases.findIndex((p) => p.startsWith('pair-1:') && p !== 'pair-1:pending'), phases.join(', ')).toBeGreaterThan(phases.indexOf('author:done'));
    expect(phases.some((p) => !/:(pending|done)$/.test(p)), phases.join(', ')).toBe(true);
    await expect(alice.locator('#audit').innerText()).resolves.toMatch(/schedule/);
    await shot(alice, '11-finished-in-production');

    const phone = await alice.context().newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(executionUrl);
    await shot(phone, '12-execution-on-a-phone');
    await phone.close();

    const state = await h.stagecoach.executionState(ID, executionId);
    expect(state.status).toBe('FINISHED');
    expect(state.audit.filter((a) => a.action === 'approve').map((a) => `${a.by} ${a.outcome}`)).toEqual(['carol refused', 'bob accepted', 'bob refused', 'alice accepted']);
    expect(state.audit.find((a) => a.action === 'schedule')).toMatchObject({ by: 'alice', outcome: 'accepted', label: 'alice, via the API' });

    // The pipeline's delivery insights: this one Production deployment, traceable to its execution.
    await alice.goto(`${base}/console/pipelines/${ID}`);
    await alice.getByRole('link', { name: 'Delivery insights' }).click();
    await alice.getByRole('heading', { name: `Insights of ${ID}` }).waitFor();
    const insight = (metric: string) => alice.locator(`section[data-metric="${metric}"]`);
    await expect(insight('deployment_frequency').locator('.figure').innerText()).resolves.toBe('1');
    await expect(insight('lead_time_for_changes').locator('.figure').innerText()).resolves.toMatch(/^\d+(\.\d)? (s|min|h|d)$/);
    await expect(insight('change_failure_rate').locator('.figure').innerText()).resolves.toBe('0 %');
    await insight('deployment_frequency').locator('summary').click();
    await expect(insight('deployment_frequency').getByRole('link', { name: `${ID} ${executionId}` }).count()).resolves.toBe(1);
    await shot(alice, '13-insights');
    expect(consoleErrors).toEqual([]);

    // Lighthouse on the console's own execution page, signed in as alice.
    const lighthouse = (await import('lighthouse')).default as unknown as (url: string, flags: Record<string, unknown>) => Promise<{ lhr: { categories: Record<string, { score: number | null }> } } | undefined>;
    const { launch } = await import('chrome-launcher');
    const chrome = await launch({ chromePath: chromiumPath, chromeFlags: CHROME_FLAGS, logLevel: 'silent' });
    try {
      const result = await lighthouse(executionUrl, {
        port: chrome.port, logLevel: 'error', onlyCategories: ['performance', 'accessibility', 'best-practices'],
        extraHeaders: { Cookie: `stagecoach_console=${TOKENS.alice}` },
      });
      const score = (c: string) => Math.round((result?.lhr.categories[c]?.score ?? 0) * 100);
      console.log(`[console] Lighthouse on ${executionUrl}: performance ${score('performance')}, accessibility ${score('accessibility')}, best practices ${score('best-practices')}`);
      expect(score('accessibility')).toBeGreaterThanOrEqual(95);
      expect(score('best-practices')).toBeGreaterThanOrEqual(95);
      expect(score('performance')).toBeGreaterThanOrEqual(90);
    } finally {
      await Promise.resolve(chrome.kill()).catch(() => undefined);
    }
  });
});
