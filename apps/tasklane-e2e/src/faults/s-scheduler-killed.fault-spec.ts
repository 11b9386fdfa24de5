import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Connection, createConnection } from 'mysql2/promise';
import { ScheduleMissedPolicy, ScheduleResource, TaskName, TaskType, scheduleActor } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { FAULT_ENV, faultScenario, logLines } from '../support/fault-scenario';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const SECOND = 1_000;
const SCHEDULER_INTERVAL_MS = 200;
const GRACE_MS = 2_000;
/**
 * Phase 1: the trackers SIGKILLed in turn, each mid-pass, for this long — and until each was
 * killed twice (a restart takes one to three seconds), but no longer than the cap.
 */
const PHASE_1_MS = 8_000;
const KILLS_EACH = 2;
const PHASE_1_MAX_MS = 20_000;
/** Phase 2: both trackers down this long (longer than the grace), then this long up again. */
const OUTAGE_MS = 5_000;
const AFTER_RECOVERY_MS = 3_000;
/**
 * A held firing pass is let go (not killed) unless the other tracker is ready by its tick plus
 * this: the other then fires the tick within about a second of its time, well within the grace.
 */
const KILL_BY_MS = 800;
/** A tick is materialized up to two intervals ahead, so a firing pass comes once a second here. */
const CATCH_TIMEOUT_MS = 1_500;
/** A task INSERT running this long is waiting at the hold. */
const WAITING_MS = 20;

const TRACKERS = ['one', 'two'] as const;
type Tracker = (typeof TRACKERS)[number];

const ENQUEUED = '"message":"schedule tick enqueued"';
const RECOVERED = '"message":"missed schedule tick fired once on recovery"';

const TASKS_OF_SCHEDULE = `SELECT t.task_id, t.run_at, t.created_at, t.status FROM background_tasks t
  JOIN background_task_events e ON e.task_id = t.task_id AND e.event = 'enqueued'
  WHERE e.actor = ? ORDER BY t.run_at, t.id`;

interface TickRow {
  task_id: string;
  run_at: Date;
  created_at: Date;
  status: string;
}

/** A firing pass waiting at the hold. */
interface HeldPass {
  tracker: Tracker;
  /** When its task INSERT began to wait. */
  since: number;
  /** The tick it fires: the schedule's committed next_run_at (the pass's own move is uncommitted). */
  tick: number;
}

interface Kill {
  tracker: Tracker;
  at: number;
  /** How long its firing transaction had been waiting at its task INSERT when the SIGKILL landed. */
  heldMs: number;
  /** From the SIGKILL until the other tracker had fired the tick (committed). */
  refiredMs: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;
/** Every whole second from `from` to `to`, both included. */
const secondsBetween = (from: number, to: number): number[] =>
  to < from ? [] : Array.from({ length: Math.floor((to - from) / SECOND) + 1 }, (_, i) => from + i * SECOND);
const spread = (values: number[]): string =>
  values.length === 0
    ? '—'
    : `${Math.min(...values)}/${Math.round(values.reduce((sum, value) => sum + value, 0) / values.length)}/${Math.max(...values)}`;

/** Inodes of the TCP sockets whose local port is `port` and remote port `remotePort` (Linux). */
function socketInodes(port: number, remotePort: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const portOf = (address: string | undefined): number => parseInt(address?.split(':').pop() ?? '', 16);
      if (fields.length > 9 && portOf(fields[1]) === port && portOf(fields[2]) === remotePort) {
        inodes.add(fields[9]);
      }
    }
  }
  return inodes;
}

function holdsSocket(pid: number, inodes: Set<string>): boolean {
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return link.startsWith('socket:[') && inodes.has(link.slice(8, -1));
    } catch {
      return false;
    }
  });
}

/**
 * Holds a scheduler's firing transaction open from outside, so that a SIGKILL lands mid-tick: a
 * gap lock above the last task row (REPEATABLE READ, `id > max FOR UPDATE`) makes every INSERT
 * into background_tasks wait — here only a scheduler pass inserts tasks — while updates of the
 * existing rows (claims, outcomes, the due relay) go on. The tracker whose pass waits there has
 * locked the schedule row and moved its next_run_at past the tick, uncommitted; the other
 * tracker's passes skip the locked row meanwhile.
 */
class FiringPassHold {
  private constructor(
    private readonly connection: Connection,
    private readonly database: string,
    private readonly databasePort: number,
  ) {}

  static async open(system: TasklaneSystem): Promise<FiringPassHold> {
    const connection = await createConnection({ uri: system.database.url, timezone: 'Z' });
    await connection.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    return new FiringPassHold(connection, system.database.name, Number(new URL(system.database.url).port || 3306));
  }

  async hold(): Promise<void> {
    for (;;) {
      await this.connection.query('START TRANSACTION');
      const [last] = (await this.connection.query('SELECT COALESCE(MAX(id), 0) AS id FROM background_tasks')) as [
        Array<{ id: number | string }>,
        unknown,
      ];
      const [above] = (await this.connection.query('SELECT id FROM background_tasks WHERE id > ? FOR UPDATE', [
        last[0].id,
      ])) as [unknown[], unknown];
      if (above.length === 0) {
        return;
      }
      // A task was committed in between (and is now locked too): let it go and lock above it.
      await this.connection.query('ROLLBACK');
    }
  }

  async release(): Promise<void> {
    await this.connection.query('ROLLBACK');
  }

  /**
   * The tracker whose pass waits at its task INSERT behind the hold, if one does. From the process
   * list (live): INNODB_TRX is a cache refreshed only when it was not read for 0.1 s, so polled
   * this often it never shows the wait. Only a scheduler pass inserts tasks here, in well under
   * `WAITING_MS` when nothing holds it.
   */
  async waiting(
    pids: ReadonlyMap<Tracker, number | undefined>,
  ): Promise<{ tracker: Tracker; waitedMs: number } | undefined> {
    const [rows] = (await this.connection.query(
      `SELECT HOST AS host, TIME_MS AS waited FROM information_schema.PROCESSLIST
        WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE 'INSERT INTO background_tasks%' AND TIME_MS >= ?`,
      [this.database, WAITING_MS],
    )) as [Array<{ host: string; waited: number | string }>, unknown];
    for (const { host, waited } of rows) {
      const inodes = socketInodes(Number(host.split(':').pop()), this.databasePort);
      // A killed tracker's transaction may linger until the hold is released: its pid is gone.
      const owner = [...pids].find(([, pid]) => pid !== undefined && holdsSocket(pid, inodes));
      if (owner) {
        return { tracker: owner[0], waitedMs: Math.round(Number(waited)) };
      }
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.connection.end().catch(() => undefined);
  }
}

describe('fault: the scheduler killed mid-tick, then every scheduler down past the grace', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-s', {
      apps: ['api-gateway', 'worker-cleanup'],
      env: {
        ...FAULT_ENV,
        SCHEDULER_INTERVAL_MS: String(SCHEDULER_INTERVAL_MS),
        SCHEDULE_MISFIRE_GRACE_MS: String(GRACE_MS),
      },
    });
    await system.startApp('status-tracker', {}, 'one');
    await system.startApp('status-tracker', {}, 'two');
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario(
    's. schedule every second; trackers SIGKILLed mid-tick in turn, then both down past the grace: each tick fires once, the missed ones once',
    async (scenario) => {
      const created = await system.post<ScheduleResource>('/api/schedules', {
        name: 'every-second',
        cron: '*/1 * * * * *',
        missed: ScheduleMissedPolicy.FireOnce,
        task_name: TaskName.DiagnosticSleep,
        task_type: TaskType.Cleanup,
        params: { ms: 5 },
      });
      expect(created.status).toBe(201);
      const schedule = created.body;
      const firstTick = Date.parse(schedule.next_run_at ?? '');
      expect(Number.isNaN(firstTick)).toBe(false);

      // Phase 1: whichever tracker's firing pass waits at the hold is SIGKILLed there while the
      // other is up, and started again at once: one tracker is always up.
      const pids = (): Map<Tracker, number | undefined> =>
        new Map(
          TRACKERS.map((tracker) => [tracker, system.apps.get(TasklaneSystem.appKey('status-tracker', tracker))?.pid]),
        );
      const ready = new Set<Tracker>(TRACKERS);
      const restarts: Array<Promise<void>> = [];
      const bootMs: number[] = [];
      let bootFailure: unknown;
      const restart = (tracker: Tracker): void => {
        ready.delete(tracker);
        const started = Date.now();
        restarts.push(
          system.startApp('status-tracker', {}, tracker).then(
            () => {
              bootMs.push(Date.now() - started);
              ready.add(tracker);
            },
            (error: unknown) => {
              bootFailure = error;
            },
          ),
        );
      };
      const nextRunAt = async (): Promise<number> => {
        const [row] = await system.query<{ next_run_at: Date | null }>(
          'SELECT next_run_at FROM task_schedules WHERE schedule_id = ?',
          [schedule.schedule_id],
        );
        return row?.next_run_at?.getTime() ?? Number.NaN;
      };
      const hold = await FiringPassHold.open(system);
      const catchPass = async (): Promise<HeldPass | undefined> => {
        for (const deadline = Date.now() + CATCH_TIMEOUT_MS; Date.now() < deadline; await sleep(5)) {
          const found = await hold.waiting(pids());
          if (found) {
            return { tracker: found.tracker, since: Date.now() - found.waitedMs, tick: await nextRunAt() };
          }
        }
        return undefined;
      };
      const kills: Kill[] = [];
      let letGo = 0;
      let uncaught = 0;
      const phase1Start = Date.now();
      try {
        const killedEnough = (): boolean =>
          TRACKERS.every((tracker) => kills.filter((kill) => kill.tracker === tracker).length >= KILLS_EACH);
        while (
          Date.now() - phase1Start < PHASE_1_MAX_MS &&
          (Date.now() - phase1Start < PHASE_1_MS || !killedEnough())
        ) {
          if (bootFailure) {
            throw bootFailure;
          }
          await hold.hold();
          let held: HeldPass | undefined;
          let kill: Kill | undefined;
          try {
            held = await catchPass();
            if (held === undefined) {
              uncaught += 1;
            } else {
              // Both must be ready: the survivor, and the held one (its scheduler runs before it
              // reports ready; a tracker killed while starting is not this scenario).
              const bothReady = (): boolean => TRACKERS.every((tracker) => ready.has(tracker));
              while (!bothReady() && Date.now() < held.tick + KILL_BY_MS) {
                await sleep(10);
              }
              if (bothReady()) {
                const at = Date.now();
                await system.killApp('status-tracker', held.tracker);
                kill = { tracker: held.tracker, at, heldMs: at - held.since, refiredMs: Number.NaN };
                kills.push(kill);
              } else {
                // A tracker is still starting: this pass commits once let go; a later one is caught.
                letGo += 1;
              }
            }
          } finally {
            await hold.release();
          }
          if (kill) {
            restart(kill.tracker);
          }
          if (held) {
            // Each tick is held once: the next hold waits until this one is fired (committed).
            const tick = held.tick;
            await waitFor(`the tick ${iso(tick)} to be fired`, async () => (await nextRunAt()) > tick, {
              timeoutMs: 10_000,
              intervalMs: 10,
            });
            if (kill) {
              kill.refiredMs = Date.now() - kill.at;
            }
          }
        }
        await Promise.all(restarts);
        if (bootFailure) {
          throw bootFailure;
        }
      } finally {
        await hold.close();
      }

      // Phase 2: both die at once and stay down longer than the grace; then both come back.
      const bothKilledAt = Date.now();
      await Promise.all(TRACKERS.map((tracker) => system.killApp('status-tracker', tracker)));
      await sleep(OUTAGE_MS);
      const restartedAt = Date.now();
      await Promise.all(TRACKERS.map((tracker) => system.startApp('status-tracker', {}, tracker)));
      const recoveredAt = Date.now();
      await sleep(AFTER_RECOVERY_MS);

      const pausedAt = Date.now();
      const paused = await system.request<ScheduleResource>('PATCH', `/api/schedules/${schedule.schedule_id}`, {
        enabled: false,
      });
      expect(paused.status).toBe(200);
      expect(paused.body).toMatchObject({ enabled: false, next_run_at: null });

      // The PATCH locked the schedule row: every pass that fired a tick had committed before it.
      const ticks = await system.query<TickRow>(TASKS_OF_SCHEDULE, [scheduleActor(schedule.schedule_id)]);
      const figures = await scenario.check(system, { accepted: ticks.map((tick) => tick.task_id) });

      const runAt = (tick: TickRow): number => tick.run_at.getTime();
      const fired = new Map<number, TickRow[]>();
      for (const tick of ticks) {
        fired.set(runAt(tick), [...(fired.get(runAt(tick)) ?? []), tick]);
      }
      const duplicated = [...fired.values()].filter((same) => same.length > 1);
      const offSecond = ticks.filter((tick) => runAt(tick) % SECOND !== 0);
      const late = ticks.filter((tick) => tick.created_at.getTime() - runAt(tick) > GRACE_MS);
      const collapsed = late[0] as TickRow | undefined;
      // Live before the outage: every second from the first tick to the one still due when both
      // trackers died (the collapsed task's), or — without one — up to a second before the kill.
      const liveBefore = secondsBetween(firstTick, collapsed ? runAt(collapsed) : floorSecond(bothKilledAt - SECOND));
      // After the recovery: from the first tick after the recovering pass, up to a second before the pause.
      const resumedFrom = collapsed ? floorSecond(collapsed.created_at.getTime()) + SECOND : undefined;
      const liveAfter = resumedFrom === undefined ? [] : secondsBetween(resumedFrom, floorSecond(pausedAt - SECOND));
      const missing = [...liveBefore, ...liveAfter].filter((second) => !fired.has(second));
      const firedWhileMissed = collapsed
        ? ticks.filter((tick) => runAt(tick) > runAt(collapsed) && runAt(tick) < (resumedFrom ?? 0))
        : [];

      // The table's columns, per tick: a missing tick is lost, a tick fired twice (or a missed
      // tick fired besides the collapsed one) is executed twice.
      const tickLost = missing.length + (collapsed ? 0 : 1);
      const tickTwice =
        duplicated.reduce((sum, same) => sum + same.length - 1, 0) +
        Math.max(0, late.length - 1) +
        firedWhileMissed.length;
      figures.lost += tickLost;
      figures.executedTwice += tickTwice;
      const violate = (what: string, items: string[]): void => {
        if (items.length > 0) {
          figures.violations.push(
            `${what}: ${items.slice(0, 5).join(', ')}${items.length > 5 ? ` … (${items.length})` : ''}`,
          );
        }
      };
      violate(
        'ticks fired twice',
        duplicated.map((same) => `${iso(runAt(same[0]))} ×${same.length}`),
      );
      violate('ticks missing while a tracker was up', missing.map(iso));
      violate(
        'missed ticks not collapsed into one task',
        late.length === 1 ? [] : [`${late.length} tasks created over ${GRACE_MS} ms after their tick`],
      );
      violate(
        'tasks for missed ticks besides the collapsed one',
        firedWhileMissed.map((tick) => iso(runAt(tick))),
      );
      violate(
        'ticks off the whole second',
        offSecond.map((tick) => iso(runAt(tick))),
      );

      const logs = [
        ...system.killed,
        ...TRACKERS.map((tracker) => system.apps.get(TasklaneSystem.appKey('status-tracker', tracker))),
      ];
      const logged = logs.reduce((sum, process) => sum + logLines(process, ENQUEUED).length, 0);
      const loggedRecovered = logs.reduce((sum, process) => sum + logLines(process, RECOVERED).length, 0);
      const phase1Late = ticks
        .filter((tick) => tick !== collapsed && runAt(tick) < bothKilledAt)
        .map((tick) => tick.created_at.getTime() - runAt(tick));
      const intervals = kills.slice(1).map((kill, i) => kill.at - kills[i].at);
      const perTracker = TRACKERS.map((tracker) => kills.filter((kill) => kill.tracker === tracker).length);
      scenario.note(
        `${ticks.length} ticks fired (${iso(firstTick)} to ${ticks.length > 0 ? iso(runAt(ticks[ticks.length - 1])) : '—'}), ` +
          `${duplicated.length} twice, ${missing.length} of the ${liveBefore.length + liveAfter.length} live seconds missing`,
      );
      scenario.note(
        `phase 1 (${Math.round((bothKilledAt - phase1Start) / 100) / 10} s): ${kills.length} SIGKILLs (one/two: ${perTracker.join('/')}), ` +
          `each while the tracker's firing transaction waited at its task INSERT after its compare-and-set ` +
          `(held min/avg/max ${spread(kills.map((kill) => kill.heldMs))} ms), every ${spread(intervals)} ms; ` +
          `the other fired the held tick ${spread(kills.map((kill) => kill.refiredMs))} ms after the kill; ` +
          `restarts ready in ${spread(bootMs)} ms; ${letGo} held passes let go (a tracker still starting), ${uncaught} waits without a pass; ` +
          `task created minus tick min/avg/max ${spread(phase1Late)} ms (grace ${GRACE_MS})`,
      );
      scenario.note(
        `phase 2: both SIGKILLed ${Math.round((restartedAt - bothKilledAt) / 100) / 10} s, ready again after ` +
          `${Math.round((recoveredAt - bothKilledAt) / 100) / 10} s: ` +
          (collapsed && resumedFrom !== undefined
            ? `the ${Math.round((resumedFrom - runAt(collapsed)) / SECOND)} ticks from ${iso(runAt(collapsed))} collapsed into 1 task ` +
              `(created ${collapsed.created_at.getTime() - runAt(collapsed)} ms after its tick), ${firedWhileMissed.length} for the others; ` +
              `resumed at ${iso(resumedFrom)}`
            : `${late.length} tasks created over the grace after their tick`),
      );
      scenario.note(
        `tracker logs (killed processes included): ${logged} "tick enqueued", ${loggedRecovered} "fired once on recovery"`,
      );

      expect(duplicated).toEqual([]);
      expect(missing.map(iso)).toEqual([]);
      expect(late.map((tick) => iso(runAt(tick)))).toHaveLength(1);
      expect(firedWhileMissed).toEqual([]);
      expect(offSecond).toEqual([]);
      expect(figures.completed).toBe(ticks.length);
      expect(perTracker.every((count) => count >= KILLS_EACH)).toBe(true);
    },
  );
});
