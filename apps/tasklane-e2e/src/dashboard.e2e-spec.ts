import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Locator, Page, chromium } from 'playwright-core';
import { TaskHistoryEvent, TaskResource, TaskStatus, isTerminalStatus } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { TasklaneSystem } from './support/tasklane-system';

const RW = 'e2e-dashboard-writer-0123456789abcdef';
const RO = 'e2e-dashboard-reader-0123456789abcdef';
/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it): no browser is downloaded. */
const finished = (task: TaskResource) => isTerminalStatus(task.status);
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Screenshots of every test, kept as artefacts. */
const SHOTS = join(__dirname, '..', '..', '..', 'tmp', 'browser');

/** Waits until `locator` matches exactly `count` elements (Playwright's own `expect` is not Jest's). */
async function countIs(locator: Locator, count: number): Promise<void> {
  await waitFor(
    `${String(locator)} × ${count}`,
    async () => {
      const seen = await locator.count();
      if (seen !== count) {
        // Named in the timeout's message: what the page showed instead.
        throw new Error(`${seen} shown`);
      }
      return true;
    },
    {
      timeoutMs: 10_000,
      intervalMs: 50,
    },
  );
}

/** The percentage a progress cell shows (`42% — …` → 42). */
function percentShown(text: string | null): number {
  return Number(text?.match(/(\d+)%/)?.[1]);
}

/** Waits until an element of `locator` shows `text`. */
async function showsText(locator: Locator, text: string | RegExp): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: 10_000 });
}

async function visible(locator: Locator): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: 10_000 });
}

/**
 * The dashboard at /ui/ in a real headless Chromium, against the whole system (gateway, tracker,
 * a worker; API keys on): filters, a task's timeline after a retry, cancel, a read-only key, and
 * a new task showing up live.
 */
describe('the dashboard in a browser', () => {
  let system: TasklaneSystem;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    }
    mkdirSync(SHOTS, { recursive: true });
    system = await TasklaneSystem.start('dashboard', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
      // A 50 ms retry delay, within the tracker's latency on a busy machine: the retry's claim may
      // come before the tracker sees `retrying`, which the worker therefore records itself.
      env: { API_KEYS_READ_WRITE: RW, API_KEYS_READ_ONLY: RO, RETRY_BASE_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '100' },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterEach(async () => {
    await page.screenshot({
      path: join(SHOTS, `${expect.getState().currentTestName?.replace(/[^a-z0-9]+/gi, '-')}.png`),
      fullPage: true,
    });
    await page.close();
  });

  const post = (path: string, body: unknown = {}) =>
    system.request<TaskResource>('POST', path, body, { authorization: `Bearer ${RW}` });

  async function enqueue(body: Record<string, unknown>): Promise<TaskResource> {
    const response = await post('/api/tasks/enqueue', body);
    expect(response.status).toBe(201);
    return response.body;
  }

  async function waitUntil(taskId: string, done: (task: TaskResource) => boolean): Promise<TaskResource> {
    return waitFor(
      `task ${taskId}`,
      async () => {
        const response = await system.request<TaskResource>('GET', `/api/tasks/${taskId}`, undefined, {
          'x-api-key': RO,
        });
        return response.status === 200 && done(response.body) ? response.body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  async function openWithKey(key: string, hash = ''): Promise<void> {
    await page.goto(`${system.baseUrl}/ui/${hash}`);
    await page.getByLabel('Key').fill(key);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.getByTestId('caller').waitFor();
  }

  const rowOf = (taskId: string) => page.locator(`tr[data-task-id="${taskId}"]`);

  it('asks for a key, refuses a wrong one, then shows the counts and the tasks', async () => {
    await page.goto(`${system.baseUrl}/ui/`);
    await page.getByLabel('Key').fill('not-a-configured-key-0000');
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await showsText(page.getByRole('alert'), 'That key was refused.');
    await page.getByLabel('Key').fill(RW);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await showsText(page.getByTestId('caller'), 'read-write');
    await visible(page.getByTestId('counts'));
  });

  it('filters the list by status, type and text in params', async () => {
    const failing = await enqueue({
      task_name: 'diagnostic.fail',
      task_type: 'cleanup',
      params: { message: 'needle-in-haystack' },
      max_retries: 0,
    });
    const fine = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 1 } });
    await waitUntil(failing.task_id, finished);
    await waitUntil(fine.task_id, finished);
    await openWithKey(RW);
    await visible(rowOf(fine.task_id));

    await page.getByLabel('Status').selectOption('failed');
    await page.getByLabel('Type').selectOption('cleanup');
    await page.getByRole('button', { name: 'Apply' }).click();
    await visible(rowOf(failing.task_id));
    await countIs(rowOf(fine.task_id), 0);
    expect(page.url()).toContain('status=failed');

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Search params and results').fill('NEEDLE-in');
    await page.keyboard.press('Enter');
    await visible(rowOf(failing.task_id));
    await countIs(rowOf(fine.task_id), 0);
  });

  it('retries a failed task from its page and shows the whole timeline', async () => {
    const task = await enqueue({
      task_name: 'diagnostic.fail',
      task_type: 'cleanup',
      params: { message: 'disk full' },
      max_retries: 1,
    });
    await waitUntil(task.task_id, finished);
    await openWithKey(RW, `#/tasks/${task.task_id}`);
    const timeline = page.getByTestId('timeline');
    await countIs(timeline.locator('li'), 5);
    await showsText(timeline.locator(`li[data-event="${TaskHistoryEvent.Retrying}"]`), 'disk full');

    await page.getByRole('button', { name: 'Retry as a new run' }).click();
    await showsText(page.getByRole('dialog'), 'as run 2');
    await page.getByRole('dialog').getByRole('button', { name: 'Retry' }).click();
    await showsText(timeline.locator(`li[data-event="${TaskHistoryEvent.Retried}"]`), /by key:[0-9a-f]{12}/);
    await waitUntil(task.task_id, (current) => current.run === 2 && isTerminalStatus(current.status));
    await countIs(timeline.locator('li'), 8);
    await visible(page.getByRole('heading', { name: 'Earlier runs' }));
  });

  it('cancels a pending task from the UI after confirmation (Escape keeps it)', async () => {
    // No worker of the email type runs here: the task stays pending.
    const task = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 1 } });
    await openWithKey(RW, `#/tasks/${task.task_id}`);
    const cancelButton = page.locator('[data-action="cancel"]');
    await cancelButton.click();
    // The question is open (and has the focus) before Escape withdraws it.
    await visible(page.getByRole('dialog'));
    await page.keyboard.press('Escape');
    await countIs(page.getByRole('dialog'), 0);
    expect((await waitUntil(task.task_id, () => true)).status).toBe(TaskStatus.Pending);

    await cancelButton.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
    await showsText(page.getByTestId('task-status'), 'cancelled');
    expect((await waitUntil(task.task_id, () => true)).status).toBe(TaskStatus.Cancelled);
  });

  it("shows a running task's progress as its handler reports it", async () => {
    const task = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 4_000 } });
    await openWithKey(RW, `#/tasks/${task.task_id}`);
    await showsText(page.getByTestId('task-progress'), /^\s*\d+% — slept \d+ of 4000 ms$/);
    const first = percentShown(await page.getByTestId('task-progress').textContent());
    // It moves on without a reload (the page polls the task).
    await waitFor(
      'the progress shown to move on',
      async () => (percentShown(await page.getByTestId('task-progress').textContent()) > first ? true : undefined),
      { timeoutMs: 10_000 },
    );
    await countIs(page.locator('[data-testid="task-progress"] progress'), 1);
  });

  it('shows a read-only key no actions, and the server refuses its forced POST with 403', async () => {
    const task = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 1 } });
    await openWithKey(RO, `#/tasks/${task.task_id}`);
    await showsText(page.getByTestId('caller'), 'read-only');
    await visible(page.getByText('Read-only key: no actions.'));
    await countIs(page.locator('[data-action]'), 0);
    const forced = await page.evaluate(
      async ([taskId, key]) => {
        const response = await fetch(`/api/tasks/${taskId}/cancel`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
        });
        return response.status;
      },
      [task.task_id, RO],
    );
    expect(forced).toBe(403);
    expect((await waitUntil(task.task_id, () => true)).status).toBe(TaskStatus.Pending);
    await page.goto(`${system.baseUrl}/ui/#/`);
    await countIs(page.locator('[data-action="retry-failed"]'), 0);
  });

  it('shows a new task in the list within 2 s, without a reload', async () => {
    await openWithKey(RW);
    await visible(page.getByTestId('task-list'));
    const task = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 1 } });
    const started = Date.now();
    await rowOf(task.task_id).waitFor({ timeout: 2_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('works at a phone width: the list and a task page fit', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openWithKey(RW);
    await visible(page.getByTestId('task-list'));
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
