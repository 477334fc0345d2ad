/**
 * The Temporal Web UI in a real browser (Debian's Chromium, headless, driven by playwright-core; no browser download),
 * as a release engineer uses it: find the execution by its PipelineId search attribute, read the current details
 * (the steps table with the waiting approval), approve through "Send a Signal", and see the execution move on.
 * Screenshots go to .stagecoach/test-artifacts/webui/.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { STATE_DIR } from '../../src/config/paths';
import { provision } from '../../src/provision';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-webui';
const WEBUI_ARTIFACTS = path.join(STATE_DIR, 'test-artifacts', 'webui');
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  const { chromium: executablePath } = await provision({ docker: false, temporal: false, chromium: true, log: (l) => console.log(l) });
  await fs.rm(WEBUI_ARTIFACTS, { recursive: true, force: true });
  await fs.mkdir(WEBUI_ARTIFACTS, { recursive: true });
  h = await startHarness('webui', [ID]);
  await h.writePipeline(testPipeline(ID, h.repo, {
    environments: {
      stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
      prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    },
  }));
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(WEBUI_ARTIFACTS, `${name}.png`) });

/** The "Current Details" panel of the workflow page's User Metadata tab: the workflow's Markdown, rendered in an iframe. */
function currentDetails(page: Page): FrameLocator {
  return page.locator('h3', { hasText: /^Current Details$/ }).filter({ visible: true })
    .locator('xpath=ancestor::div[.//iframe][1]').locator('iframe').first().contentFrame();
}

const rowOf = (details: FrameLocator, action: string) =>
  details.locator('tr').filter({ has: details.locator('td:nth-child(2)', { hasText: new RegExp(`^${action}$`) }) }).first();

/** The cells of the steps table's row for `action` (columns: phase, step, environment, status, started, ...). */
async function stepRow(details: FrameLocator, action: string): Promise<string[]> {
  const row = rowOf(details, action);
  await row.waitFor();
  return (await row.locator('td').allInnerTexts()).map((t) => t.trim());
}

/** The workflow page's User Metadata tab (clicked unless already open), once its current details show the table. */
async function openUserMetadata(page: Page): Promise<FrameLocator> {
  if (!/\/user-metadata$/.test(page.url())) {
    await page.getByRole('tab', { name: 'User Metadata' }).filter({ visible: true }).first().click();
    await page.waitForURL(/\/user-metadata$/);
  }
  const details = currentDetails(page);
  await details.locator('table').waitFor();
  return details;
}

/**
 * Runs `view` (reach a page state and read it), reloading the page and trying again when it fails: Chromium aborts
 * the requests in flight with net::ERR_NETWORK_CHANGED whenever Docker adds or removes a network on this host (any
 * test's containers), and the Web UI then shows its "Internal Error" page. Assertions stay outside `view`.
 */
async function withReloads<T>(page: Page, what: string, view: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await view();
    } catch (err) {
      if (attempt === 3) throw err;
      const uiError = await page.getByText('Internal Error', { exact: true }).count().catch(() => 0);
      console.log(`[webui] ${what}: ${uiError ? 'the Web UI shows "Internal Error"' : (err as Error).message.split('\n')[0]}; reloading`);
      await page.reload({ timeout: 30_000 }).catch(() => undefined);
    }
  }
}

describe('Temporal Web UI', () => {
  it('finds the execution by PipelineId, shows the waiting approval, and approves through "Send a Signal"', async () => {
    const ui = inject('temporalUiUrl');
    const { executionId, workflowId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    const waiting = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(waiting.waiting?.action, `${waiting.status}: ${waiting.reason ?? ''}`).toBe('approval');

    const page = await browser.newPage({ viewport: { width: 1920, height: 1300 } });
    page.setDefaultTimeout(20_000);
    onTestFailed(async () => {
      await shot(page, '99-failure').catch(() => undefined);
      await fs.writeFile(path.join(WEBUI_ARTIFACTS, '99-failure.html'), await page.content()).catch(() => undefined);
    });

    // The workflows list, filtered by the search attribute (the pipeline workflow carries it too).
    const listUrl = `${ui}/namespaces/default/workflows?query=${encodeURIComponent(`PipelineId="${ID}"`)}`;
    const link = page.getByRole('link', { name: workflowId, exact: true });
    await withReloads(page, 'the workflows list', async () => {
      await page.goto(listUrl);
      await link.waitFor();
    });
    await expect(page.getByRole('link', { name: `stagecoach-${ID}`, exact: true }).count()).resolves.toBe(1);
    await shot(page, '01-workflows-by-pipeline-id');

    // The execution's current details: the steps table, the approval WAITING, and what it waits for.
    let details = await withReloads(page, 'the execution\'s User Metadata', async () => {
      if (!page.url().includes(`/workflows/${workflowId}/`)) {
        await link.click();
        await page.waitForURL(new RegExp(`/workflows/${workflowId}/`));
      }
      return openUserMetadata(page);
    });
    expect(await stepRow(details, 'approval')).toEqual(expect.arrayContaining(['production', 'approval', 'WAITING']));
    expect(await stepRow(details, 'deploy')).toEqual(expect.arrayContaining(['stage', 'FINISHED']));
    await expect(details.locator('body').innerText()).resolves.toMatch(/Waiting at approval for approve \/ reject \/ cancel by alice, bob/);
    await rowOf(details, 'approval').scrollIntoViewIfNeeded();
    await shot(page, '02-current-details-waiting-for-approval');

    // More Actions → Send a Signal: `approve` with {"by":"alice"}.
    await page.getByRole('button', { name: 'More Actions' }).filter({ visible: true }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).filter({ visible: true }).click();
    const dialog = page.getByRole('dialog').filter({ hasText: 'Send a Signal' }).filter({ visible: true });
    await dialog.getByTestId('signal-select-button').click();
    await dialog.getByRole('option', { name: 'approve', exact: true }).click();
    const input = dialog.locator('.cm-content[contenteditable="true"]');
    await input.fill('{"by":"alice"}');
    await expect(input.innerText()).resolves.toBe('{"by":"alice"}');
    await shot(page, '03-send-a-signal-approve');
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await page.getByText('Workflow signaled.').filter({ visible: true }).first().waitFor();

    // The execution moves on: the client sees the schedule wait and the audited signal ...
    const state = await h.waitFor(ID, executionId, isWaitingAt('schedule'), 60_000);
    expect(state.waiting?.action).toBe('schedule');
    expect(state.steps.find((s) => s.action === 'approval')!.details).toMatchObject({ decision: 'approved', by: 'alice' });
    expect(state.audit.at(-1)).toMatchObject({ via: 'signal', action: 'approve', by: 'alice', outcome: 'accepted' });

    // ... and so does the Web UI after a reload.
    await page.reload().catch(() => undefined); // a failed reload is retried by withReloads
    details = await withReloads(page, 'User Metadata after the signal', () => openUserMetadata(page));
    expect(await stepRow(details, 'approval')).toEqual(expect.arrayContaining(['approval', 'FINISHED']));
    expect(await stepRow(details, 'schedule')).toEqual(expect.arrayContaining(['schedule', 'WAITING']));
    await expect(details.locator('body').innerText()).resolves.toMatch(/Waiting at schedule for schedule/);
    await rowOf(details, 'schedule').scrollIntoViewIfNeeded();
    await shot(page, '04-current-details-after-approve');
    await page.close();

    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'bob', reason: 'browser test over' });
    expect((await h.waitFor(ID, executionId, hasEnded)).status).toBe('CANCELLED');
  });
});
