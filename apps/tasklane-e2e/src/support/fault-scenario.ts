import { AppProcess } from '@tasklane/testing';
import { DeliveryCheckOptions, DeliveryFigures, checkDelivery } from './delivery-check';
import { recordScenario } from './fault-report';
import { TasklaneSystem } from './tasklane-system';

/**
 * Timings of every fault scenario: short leases and intervals so that recovery happens within
 * seconds (production defaults are tens of seconds).
 */
export const FAULT_ENV: Record<string, string> = {
  TASK_LEASE_MS: '2000',
  LEASE_EXPIRY_GRACE_MS: '500',
  RECONCILE_INTERVAL_MS: '250',
  OUTBOX_RELAY_INTERVAL_MS: '250',
  OUTBOX_RELAY_MIN_AGE_MS: '1000',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '400',
  SHUTDOWN_GRACE_MS: '5000',
  WORKER_CONCURRENCY: '4',
  REDISPATCH_INTERVAL_MS: '500',
  REDISPATCH_EMPTY_QUEUE_AFTER_MS: '2000',
  REDISPATCH_AFTER_MS: '30000',
  TRACKER_HEARTBEAT_INTERVAL_MS: '250',
  TRACKER_REPLICA_TIMEOUT_MS: '5000',
};

/** What the tracker logs for each command it publishes again (ADR 0010). */
export const REDISPATCHED = '"task command published again: the broker had lost it"';

// eslint-disable-next-line no-control-regex -- colours jest puts into assertion messages
const ANSI_ESCAPES = /\u001b\[[0-9;]*m/g;

/** Apps every scenario needs besides its workers: the gateway and the status tracker. */
export const CORE_APPS = ['api-gateway', 'status-tracker'] as const;

export interface ScenarioContext {
  /** Adds a note to the scenario's row in the fault table. */
  note(text: string): void;
  /** Runs the final delivery check and keeps its figures for the table. */
  check(system: TasklaneSystem, options: DeliveryCheckOptions): Promise<DeliveryFigures>;
}

function figureNotes(figures: DeliveryFigures): string[] {
  const notes: string[] = [];
  if (figures.unanswered > 0) {
    notes.push(`${figures.unanswered} of the accepted committed without a 201 reaching the client`);
  }
  if (figures.cancelled > 0) {
    notes.push(`${figures.cancelled} cancelled`);
  }
  if (figures.rerunAfterCrash > 0) {
    notes.push(
      `${figures.rerunAfterCrash} ran again after a SIGKILL hit between the end of its handler and the commit of its outcome (at-least-once per crash, ADR 0005)`,
    );
  }
  if (figures.handedBack > 0) {
    notes.push(`${figures.handedBack} handed back (lease expired or claim released), then run by a new claim`);
  }
  return notes;
}

/**
 * One row of the fault table: runs `run` as a jest test, records the row (also when the scenario
 * fails, with the reason) and asserts that nothing was lost, executed twice or left stuck.
 */
export function faultScenario(
  name: string,
  run: (context: ScenarioContext) => Promise<void>,
  timeoutMs?: number,
): void {
  it(
    name,
    async () => {
      const started = Date.now();
      const notes: string[] = [];
      let figures: DeliveryFigures | undefined;
      let failure: string | undefined;
      const violated = (): string | undefined => {
        const found: DeliveryFigures | undefined = figures;
        return found && found.violations.length > 0
          ? `delivery guarantees violated: ${found.violations.join('; ')}`
          : undefined;
      };
      try {
        await run({
          note: (text) => notes.push(text),
          check: async (system, options) => {
            figures = await checkDelivery(system, options);
            return figures;
          },
        });
        if (!figures) {
          throw new Error('the scenario never ran its delivery check');
        }
        const violation = violated();
        if (violation) {
          throw new Error(violation);
        }
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error))
          .replace(ANSI_ESCAPES, '')
          .split('\n')
          .slice(0, 12)
          .join(' ');
        // What matters most comes first: the guarantees that did not hold.
        const violation = violated();
        failure =
          violation && !message.startsWith(violation) ? `${violation} (also: ${message.slice(0, 160)}…)` : message;
        throw failure === message ? error : new Error(failure, { cause: error });
      } finally {
        const final: DeliveryFigures | undefined = figures;
        recordScenario({
          scenario: name,
          accepted: final?.accepted ?? null,
          completed: final?.completed ?? null,
          lost: final?.lost ?? null,
          executedTwice: final?.executedTwice ?? null,
          stuck: final?.stuck ?? null,
          notes: [...(final ? figureNotes(final) : []), ...notes],
          failure,
          durationMs: Date.now() - started,
        });
      }
    },
    timeoutMs,
  );
}

const STARTED = '"message":"task started"';
const FINISHED = [
  '"message":"task succeeded"',
  '"message":"task will be retried"',
  '"message":"task failed"',
  '"message":"task given up; its outcome is discarded"',
];

function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    count += 1;
  }
  return count;
}

/** Tasks a worker process is running right now, from its own log (started minus finished). */
export function tasksInFlight(process: AppProcess | undefined): number {
  if (!process) {
    return 0;
  }
  const logs = process.logs();
  return occurrences(logs, STARTED) - FINISHED.reduce((sum, needle) => sum + occurrences(logs, needle), 0);
}

/** Lines of an app's log that contain `needle`. */
export function logLines(process: AppProcess | undefined, needle: string): string[] {
  return (process?.logs() ?? '').split('\n').filter((line) => line.includes(needle));
}

export function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** Mostly short tasks (100–400 ms) and one in `longEvery` long enough (2–4 s) to span a fault. */
export function mixedSleeps(longEvery = 8): () => number {
  return () => (Math.random() < 1 / longEvery ? randomBetween(2_000, 4_000) : randomBetween(100, 400));
}
