import { findSamples, parsePrometheusText, sampleValue } from '@tasklane/testing';
import { Registry } from 'prom-client';
import { createRegistry } from './metrics.registry';
import { TaskMetrics } from './task-metrics';

/** Every metric TaskMetrics defines: how to touch it, its name and its Prometheus type. */
const METRICS: Array<[string, (metrics: TaskMetrics) => void, string, 'counter' | 'histogram']> = [
  [
    'enqueued',
    (m) => m.enqueued.inc({ task_type: 'email', priority: '5' }),
    'tasklane_tasks_enqueued_total',
    'counter',
  ],
  ['cancelled', (m) => m.cancelled.inc({ task_type: 'email' }), 'tasklane_tasks_cancelled_total', 'counter'],
  ['started', (m) => m.started.inc({ task_type: 'email' }), 'tasklane_tasks_started_total', 'counter'],
  ['completed', (m) => m.completed.inc({ task_type: 'email' }), 'tasklane_tasks_completed_total', 'counter'],
  ['failed', (m) => m.failed.inc({ task_type: 'email' }), 'tasklane_tasks_failed_total', 'counter'],
  ['retried', (m) => m.retried.inc({ task_type: 'email' }), 'tasklane_tasks_retried_total', 'counter'],
  [
    'duration',
    (m) => m.duration.observe({ task_type: 'email', task_name: 'email.send', outcome: 'succeeded' }, 0.2),
    'tasklane_task_duration_seconds',
    'histogram',
  ],
  [
    'eventsPersisted',
    (m) => m.eventsPersisted.inc({ event: 'succeeded' }),
    'tasklane_events_persisted_total',
    'counter',
  ],
  ['eventLag', (m) => m.eventLag.observe(0.02), 'tasklane_event_lag_seconds', 'histogram'],
  ['outboxRelayed', (m) => m.outboxRelayed.inc(), 'tasklane_outbox_relayed_total', 'counter'],
  ['scheduledDispatched', (m) => m.scheduledDispatched.inc(), 'tasklane_scheduled_tasks_dispatched_total', 'counter'],
  ['scheduleTicks', (m) => m.scheduleTicks.inc({ outcome: 'fired' }), 'tasklane_schedule_ticks_total', 'counter'],
  ['leasesReclaimed', (m) => m.leasesReclaimed.inc(), 'tasklane_leases_reclaimed_total', 'counter'],
  [
    'tasksRedispatched',
    (m) => m.tasksRedispatched.inc({ task_type: 'email', reason: 'queue_empty' }),
    'tasklane_tasks_redispatched_total',
    'counter',
  ],
  ['tasksAged', (m) => m.tasksAged.inc({ task_type: 'report' }), 'tasklane_tasks_aged_total', 'counter'],
  [
    'httpDuration',
    (m) => m.httpDuration.observe({ method: 'GET', route: '/api/tasks/:task_id', status_code: '200' }, 0.003),
    'http_request_duration_seconds',
    'histogram',
  ],
];

const TASKLANE_NAMES = METRICS.map(([, , name]) => name);

describe('createRegistry', () => {
  it('exports the process defaults, labelled with the app', async () => {
    const exposition = parsePrometheusText(await createRegistry('worker-email').metrics());
    expect(exposition.types['process_cpu_user_seconds_total']).toBe('counter');
    expect(exposition.types['nodejs_heap_size_used_bytes']).toBe('gauge');
    expect(exposition.samples.length).toBeGreaterThan(10);
    for (const sample of exposition.samples) {
      expect(sample.labels['app']).toBe('worker-email');
    }
  });

  it('gives each call a registry of its own', () => {
    expect(createRegistry('a')).not.toBe(createRegistry('a'));
  });
});

describe('TaskMetrics', () => {
  let registry: Registry;
  let metrics: TaskMetrics;

  beforeEach(() => {
    registry = createRegistry('api-gateway');
    metrics = new TaskMetrics(registry);
  });

  it('exports no Tasklane metric before one is used', async () => {
    const exposition = parsePrometheusText(await registry.metrics());
    for (const name of TASKLANE_NAMES) {
      expect(exposition.types[name]).toBeUndefined();
    }
    expect(exposition.samples.filter((sample) => /^(tasklane_|http_)/.test(sample.name))).toEqual([]);
  });

  it.each(METRICS)('exports %s once used, and only it', async (_getter, use, name, type) => {
    use(metrics);
    const exposition = parsePrometheusText(await registry.metrics());
    expect(exposition.types[name]).toBe(type);
    expect(exposition.help[name]).toEqual(expect.any(String));
    for (const other of TASKLANE_NAMES.filter((candidate) => candidate !== name)) {
      expect(exposition.types[other]).toBeUndefined();
    }
    const sampleName = type === 'histogram' ? `${name}_count` : name;
    const samples = findSamples(exposition, sampleName);
    expect(samples).toHaveLength(1);
    expect(samples[0].value).toBe(1);
    expect(samples[0].labels['app']).toBe('api-gateway');
  });

  it('counts with the task labels and the app default label', async () => {
    metrics.enqueued.inc({ task_type: 'email', priority: '5' });
    metrics.enqueued.inc({ task_type: 'email', priority: '5' });
    metrics.enqueued.inc({ task_type: 'report', priority: '9' });
    const text = await registry.metrics();
    expect(text).toMatch(/^tasklane_tasks_enqueued_total\{task_type="email",priority="5",app="api-gateway"\} 2$/m);
    expect(sampleValue(text, 'tasklane_tasks_enqueued_total', { task_type: 'report', priority: '9' })).toBe(1);
    expect(findSamples(text, 'tasklane_tasks_enqueued_total').map((sample) => sample.labels)).toEqual([
      { task_type: 'email', priority: '5', app: 'api-gateway' },
      { task_type: 'report', priority: '9', app: 'api-gateway' },
    ]);
  });

  it('hands out the same metric on every use (no "already registered" on the second)', async () => {
    expect(metrics.started).toBe(metrics.started);
    metrics.started.inc({ task_type: 'email' });
    metrics.started.inc({ task_type: 'email' });
    expect(sampleValue(await registry.metrics(), 'tasklane_tasks_started_total', { task_type: 'email' })).toBe(2);
  });

  it('exports a counter touched with inc(0) at 0, so it exists before the first event', async () => {
    metrics.failed.inc({ task_type: 'cleanup' }, 0);
    expect(sampleValue(await registry.metrics(), 'tasklane_tasks_failed_total', { task_type: 'cleanup' })).toBe(0);
  });

  it('times task attempts by type, name and outcome, in seconds', async () => {
    const labels = { task_type: 'email', task_name: 'email.send', outcome: 'succeeded' } as const;
    metrics.duration.observe(labels, 0.2);
    metrics.duration.observe(labels, 7);
    metrics.duration.observe({ ...labels, outcome: 'failed' }, 0.001);
    const exposition = parsePrometheusText(await registry.metrics());
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_count', labels)).toBe(2);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_sum', labels)).toBeCloseTo(7.2);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_bucket', { ...labels, le: '0.005' })).toBe(0);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_bucket', { ...labels, le: '0.5' })).toBe(1);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_bucket', { ...labels, le: '10' })).toBe(2);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_bucket', { ...labels, le: '3600' })).toBe(2);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(2);
    expect(sampleValue(exposition, 'tasklane_task_duration_seconds_count', { ...labels, outcome: 'failed' })).toBe(1);
  });

  it('keeps two apps in one process apart (a registry each)', async () => {
    const other = new TaskMetrics(createRegistry('status-tracker'));
    metrics.started.inc({ task_type: 'email' });
    other.started.inc({ task_type: 'email' }, 3);
    expect(sampleValue(await registry.metrics(), 'tasklane_tasks_started_total', { app: 'api-gateway' })).toBe(1);
    expect(sampleValue(await other.registry.metrics(), 'tasklane_tasks_started_total', { app: 'status-tracker' })).toBe(
      3,
    );
  });
});
