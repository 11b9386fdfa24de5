import { TaskDelay } from '../tasks/task-limits';
import { parseRunAt, validateSchedule } from './task-schedule';
import { validateEnqueueTask } from './validate-enqueue-task';

const NOW = new Date('2026-12-07T12:00:00.000Z');

describe('parseRunAt', () => {
  it.each([
    ['2026-12-24T18:00:00Z', '2026-12-24T18:00:00.000Z'],
    ['2026-12-24T18:00:00.250Z', '2026-12-24T18:00:00.250Z'],
    ['2026-12-24T19:00:00+01:00', '2026-12-24T18:00:00.000Z'],
    ['2026-12-24T13:30-04:30', '2026-12-24T18:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('reads %s as %s', (text, instant) => {
    expect(parseRunAt(text)?.toISOString()).toBe(instant);
  });

  it.each([
    '2026-12-24T18:00:00', // no zone: the server's would be guessed
    '2026-12-24',
    '2026-12-24 18:00:00Z',
    '2026-02-30T00:00:00Z', // no such day (Date would roll it over to March)
    '2025-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    'tomorrow',
    '',
  ])('refuses %j', (text) => {
    expect(parseRunAt(text)).toBeUndefined();
  });
});

describe('validateSchedule', () => {
  it('is "as soon as possible" without run_at or delay_ms', () => {
    expect(validateSchedule(undefined, undefined, NOW)).toEqual({ ok: true, value: { runAt: null, canonical: null } });
  });

  it('turns delay_ms into an instant from now, compared by its value', () => {
    expect(validateSchedule(undefined, 90_000, NOW)).toEqual({
      ok: true,
      value: { runAt: new Date('2026-12-07T12:01:30.000Z'), canonical: 'delay_ms:90000' },
    });
  });

  it('compares run_at by its instant, whatever the zone it was written in', () => {
    const utc = validateSchedule('2026-12-24T18:00:00Z', undefined, NOW);
    const paris = validateSchedule('2026-12-24T19:00:00.000+01:00', undefined, NOW);
    expect(utc).toEqual(paris);
    expect(utc.ok && utc.value.canonical).toBe('run_at:2026-12-24T18:00:00.000Z');
  });

  it('accepts a run_at in the past (it means now)', () => {
    const past = validateSchedule('2020-01-01T00:00:00Z', undefined, NOW);
    expect(past.ok && past.value.runAt?.toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('refuses both at once, a run_at without a zone and one beyond the horizon, naming run_at', () => {
    const beyond = new Date(NOW.getTime() + TaskDelay.MaxMs + 1_000).toISOString();
    for (const [runAt, delayMs] of [
      ['2026-12-24T18:00:00Z', 1_000],
      ['2026-12-24T18:00:00', undefined],
      [beyond, undefined],
    ] as const) {
      const result = validateSchedule(runAt, delayMs, NOW);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.errors.map((error) => error.field)).toEqual(['run_at']);
    }
  });
});

describe('validateEnqueueTask with a schedule and an idempotency key', () => {
  const purge = { task_name: 'cleanup.purge_tasks' };

  it('carries run_at, the canonical schedule and the key', () => {
    const result = validateEnqueueTask({ ...purge, delay_ms: 5_000, idempotency_key: 'nightly-2026-12-07' }, NOW);
    expect(result).toMatchObject({
      ok: true,
      value: {
        run_at: new Date('2026-12-07T12:00:05.000Z'),
        schedule: 'delay_ms:5000',
        idempotency_key: 'nightly-2026-12-07',
      },
    });
  });

  it.each([
    [{ delay_ms: -1 }, 'delay_ms'],
    [{ delay_ms: 1.5 }, 'delay_ms'],
    [{ delay_ms: TaskDelay.MaxMs + 1 }, 'delay_ms'],
    [{ delay_ms: '5000' }, 'delay_ms'],
    [{ run_at: 1_767_225_600_000 }, 'run_at'],
    [{ run_at: 'next tuesday' }, 'run_at'],
    [{ run_at: '2026-12-24T18:00:00Z', delay_ms: 5 }, 'run_at'],
    [{ idempotency_key: '' }, 'idempotency_key'],
    [{ idempotency_key: 'has space' }, 'idempotency_key'],
    [{ idempotency_key: 'é' }, 'idempotency_key'],
    [{ idempotency_key: 'k'.repeat(256) }, 'idempotency_key'],
    [{ idempotency_key: 42 }, 'idempotency_key'],
  ])('refuses %j naming %s', (extra, field) => {
    const result = validateEnqueueTask({ ...purge, ...extra }, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && [...new Set(result.errors.map((error) => error.field))]).toEqual([field]);
  });
});
