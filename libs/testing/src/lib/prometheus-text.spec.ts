import { findSamples, parsePrometheusText, sampleValue } from './prometheus-text';

const TEXT = `# HELP tasklane_tasks_started_total Attempts claimed and started by workers.
# TYPE tasklane_tasks_started_total counter
tasklane_tasks_started_total{task_type="email",app="worker-email"} 3
tasklane_tasks_started_total{task_type="report",app="worker-email"} 0

# HELP tasklane_task_duration_seconds Handler run time per attempt.
# TYPE tasklane_task_duration_seconds histogram
tasklane_task_duration_seconds_bucket{le="+Inf",task_type="email",outcome="succeeded",app="worker-email"} 2
tasklane_task_duration_seconds_sum{task_type="email",outcome="succeeded",app="worker-email"} 0.25
process_start_time_seconds 1764417600
odd_label{path="a \\"quoted\\" \\\\ value, with comma"} 1e-3
`;

describe('parsePrometheusText', () => {
  it('reads samples, labels, types and help', () => {
    const exposition = parsePrometheusText(TEXT);
    expect(exposition.types).toEqual({
      tasklane_tasks_started_total: 'counter',
      tasklane_task_duration_seconds: 'histogram',
    });
    expect(exposition.help['tasklane_tasks_started_total']).toBe('Attempts claimed and started by workers.');
    expect(exposition.samples).toHaveLength(6);
    expect(exposition.samples[0]).toEqual({
      name: 'tasklane_tasks_started_total',
      labels: { task_type: 'email', app: 'worker-email' },
      value: 3,
    });
    expect(sampleValue(exposition, 'process_start_time_seconds')).toBe(1764417600);
    expect(findSamples(exposition, 'odd_label')[0]).toEqual({
      name: 'odd_label',
      labels: { path: 'a "quoted" \\ value, with comma' },
      value: 0.001,
    });
  });

  it('matches on a subset of the labels', () => {
    expect(findSamples(TEXT, 'tasklane_tasks_started_total', { app: 'worker-email' })).toHaveLength(2);
    expect(sampleValue(TEXT, 'tasklane_tasks_started_total', { task_type: 'report' })).toBe(0);
    expect(sampleValue(TEXT, 'tasklane_task_duration_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(sampleValue(TEXT, 'tasklane_tasks_started_total', { task_type: 'cleanup' })).toBeUndefined();
  });

  it('refuses to pick one of several matching samples', () => {
    expect(() => sampleValue(TEXT, 'tasklane_tasks_started_total')).toThrow(/2 samples/);
  });

  it('fails on a line that is not a sample', () => {
    expect(() => parsePrometheusText('tasklane_tasks_started_total{task_type="email"}\n')).toThrow(/not a Prometheus/);
  });
});
