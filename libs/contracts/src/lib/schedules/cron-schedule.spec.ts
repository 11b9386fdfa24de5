import { ScheduleMissedPolicy } from './schedule-limits';
import { cronTimingErrors, isTimeZone, nextTick, planTicks } from './cron-schedule';

const at = (iso: string) => new Date(iso);
const utc = (cron: string) => ({ cron, timezone: 'UTC' });

describe('cron timing', () => {
  it('knows IANA time zones and refuses others', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });

  it.each([
    ['0 3 * * *', 'UTC', []],
    ['*/2 * * * * *', 'UTC', []],
    ['0 9 * * MON-FRI', 'America/New_York', []],
    ['@daily', 'UTC', []],
    ['61 * * * *', 'UTC', ['cron']],
    ['* * * *', 'UTC', ['cron']],
    ['* * * * * * *', 'UTC', ['cron']],
    ['', 'UTC', ['cron']],
    ['0 0 30 2 *', 'UTC', ['cron']],
    ['0 3 * * *', 'Nowhere/Land', ['timezone']],
  ])('%j in %s → errors on %j', (cron, timezone, fields) => {
    expect(cronTimingErrors({ cron, timezone }).map((error) => error.field)).toEqual(fields);
  });

  it('gives the next tick strictly after the instant, in the time zone', () => {
    expect(nextTick(utc('0 * * * *'), at('2026-12-07T11:00:00.000Z'))).toEqual(at('2026-12-07T12:00:00.000Z'));
    expect(nextTick(utc('*/2 * * * * *'), at('2026-12-07T11:00:00.500Z'))).toEqual(at('2026-12-07T11:00:02.000Z'));
    // 03:00 in Paris is 02:00 UTC in winter.
    expect(nextTick({ cron: '0 3 * * *', timezone: 'Europe/Paris' }, at('2026-12-07T11:00:00Z'))).toEqual(
      at('2026-12-08T02:00:00.000Z'),
    );
  });

  it('follows daylight saving time: 09:00 New York is 14:00 UTC in winter and 13:00 UTC in summer', () => {
    const timing = { cron: '0 9 * * *', timezone: 'America/New_York' };
    expect(nextTick(timing, at('2026-03-07T12:00:00Z'))).toEqual(at('2026-03-07T14:00:00.000Z'));
    expect(nextTick(timing, at('2026-03-08T12:00:00Z'))).toEqual(at('2026-03-08T13:00:00.000Z'));
  });
});

describe('planTicks', () => {
  const everySecond = { ...utc('* * * * * *'), missed: ScheduleMissedPolicy.FireOnce };
  const now = at('2026-12-07T11:00:10.000Z');
  const window = { now, horizon: new Date(now.getTime() + 1_000), graceMs: 5_000, maxTicks: 100 };

  it('fires every tick from the due one up to the horizon, each once, and goes on after them', () => {
    const plan = planTicks(everySecond, at('2026-12-07T11:00:08.000Z'), window);
    expect(plan.fire.map((tick) => tick.toISOString())).toEqual([
      '2026-12-07T11:00:08.000Z',
      '2026-12-07T11:00:09.000Z',
      '2026-12-07T11:00:10.000Z',
      '2026-12-07T11:00:11.000Z',
    ]);
    expect(plan.next).toEqual(at('2026-12-07T11:00:12.000Z'));
    expect(plan.missed).toBe(false);
  });

  it('enqueues at most maxTicks in one pass, leaving the rest to the next', () => {
    const plan = planTicks(everySecond, at('2026-12-07T11:00:08.000Z'), { ...window, maxTicks: 2 });
    expect(plan.fire).toHaveLength(2);
    expect(plan.next).toEqual(at('2026-12-07T11:00:10.000Z'));
  });

  it('a tick missed by more than the grace fires once for all the missed ticks (fire_once)', () => {
    const plan = planTicks(everySecond, at('2026-12-07T10:00:00.000Z'), window);
    expect(plan).toEqual({
      fire: [at('2026-12-07T10:00:00.000Z')],
      next: at('2026-12-07T11:00:11.000Z'),
      missed: true,
    });
  });

  it('or not at all (skip), going on from the first tick after now', () => {
    const plan = planTicks({ ...everySecond, missed: ScheduleMissedPolicy.Skip }, at('2026-12-07T10:00:00Z'), window);
    expect(plan).toEqual({ fire: [], next: at('2026-12-07T11:00:11.000Z'), missed: true });
  });

  it('a tick late by less than the grace is on time', () => {
    const hourly = { ...utc('0 * * * *'), missed: ScheduleMissedPolicy.Skip };
    const plan = planTicks(hourly, at('2026-12-07T11:00:06.000Z'), {
      ...window,
      now: at('2026-12-07T11:00:10.000Z'),
    });
    expect(plan).toEqual({
      fire: [at('2026-12-07T11:00:06.000Z')],
      next: at('2026-12-07T12:00:00.000Z'),
      missed: false,
    });
  });

  it('fires nothing for a tick beyond the horizon', () => {
    const plan = planTicks(everySecond, at('2026-12-07T11:00:30.000Z'), window);
    expect(plan).toEqual({ fire: [], next: at('2026-12-07T11:00:30.000Z'), missed: false });
  });
});
