import { KubeObject, objectsOfKind } from './lib/kustomize';
import { TARGET_LABELS, TASKLANE_METRICS, metricOf, parsePromQL } from './lib/metrics';
import { renderAll } from './lib/renders';
import { readWorkspaceFile } from './lib/workspace';

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const base = renderAll().find((render) => render.label === 'k8s/base') as { objects: KubeObject[] };
const rules: AlertRule[] = objectsOfKind(base.objects, 'PrometheusRule').flatMap((rule) =>
  (rule.spec as { groups: { rules: AlertRule[] }[] }).groups.flatMap((group) => group.rules),
);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const operationsDoc = readWorkspaceFile('docs', 'operations.md');

/** The alerts the issue asks for, each recognised by what its expression watches. */
const REQUIRED_ALERTS: [string, (expr: string) => boolean][] = [
  [
    'oldest pending task too old, per task type',
    (expr) => /\btasklane_pending_oldest_age_seconds\b/.test(expr) && /by \(task_type\)/.test(expr),
  ],
  [
    'failure rate high, per task type',
    (expr) => /\btasklane_tasks_failed_total\b/.test(expr) && /\btasklane_tasks_completed_total\b/.test(expr),
  ],
  ['status tracker event lag high', (expr) => /\btasklane_event_lag_seconds_bucket\b/.test(expr)],
  ['outbox relaying continuously', (expr) => /\btasklane_outbox_relayed_total\b/.test(expr)],
  ['leases reclaimed (workers dying)', (expr) => /\btasklane_leases_reclaimed_total\b/.test(expr)],
  ['commands re-dispatched (the broker lost messages)', (expr) => /\btasklane_tasks_redispatched_total\b/.test(expr)],
  ['any app down', (expr) => /\bup\{[^}]*namespace="tasklane"[^}]*\}\s*==\s*0/.test(expr)],
];

describe('PrometheusRule tasklane', () => {
  it('exists and defines alerts', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(REQUIRED_ALERTS.length);
  });

  it.each(REQUIRED_ALERTS)('alerts on: %s', (_what, watches) => {
    expect(alerts.filter((alert) => watches(alert.expr)).map((alert) => alert.alert)).not.toEqual([]);
  });

  it('has unique alert names, each with a severity, a summary and a description', () => {
    const names = alerts.map((alert) => alert.alert);
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
    for (const alert of alerts) {
      expect({ alert: alert.alert, severity: alert.labels?.severity }).toEqual({
        alert: alert.alert,
        severity: expect.stringMatching(/^(critical|warning|info)$/),
      });
      expect(alert.annotations?.summary).toBeTruthy();
      expect(alert.annotations?.description).toBeTruthy();
      if (alert.for !== undefined) {
        expect(alert.for).toMatch(/^(\d+(ms|s|m|h|d|w|y))+$/);
      }
    }
  });

  it.each(rules.map((rule): [string, AlertRule] => [rule.alert ?? rule.record ?? '?', rule]))(
    '%s: its expression is valid PromQL over metrics the apps export',
    (_name, rule) => {
      const parsed = parsePromQL(rule.expr);
      expect({ expr: rule.expr, syntaxErrorsAt: parsed.errors }).toEqual({ expr: rule.expr, syntaxErrorsAt: [] });
      expect(parsed.series.length).toBeGreaterThan(0);
      const known = parsed.series.map((series) => ({ series, metric: metricOf(series)?.name }));
      expect(known.filter(({ metric }) => metric === undefined)).toEqual([]);
      // Every label the expression groups or matches on exists on one of its metrics.
      const labels = new Set([
        ...TARGET_LABELS,
        'le',
        ...parsed.series.flatMap((series) => metricOf(series)?.definition.labels ?? []),
      ]);
      expect(parsed.labels.filter((label) => !labels.has(label))).toEqual([]);
    },
  );

  it('can tell a broken expression (self-check of the PromQL checks)', () => {
    expect(parsePromQL('sum by (task_type (rate(tasklane_tasks_failed_total[5m]))').errors).not.toEqual([]);
    expect(metricOf('tasklane_task_failed_total')).toBeUndefined();
    expect(metricOf('tasklane_event_lag_seconds_bucket')?.name).toBe('tasklane_event_lag_seconds');
  });
});

describe('docs/operations.md', () => {
  it.each(Object.keys(TASKLANE_METRICS))('explains the metric %s', (metric) => {
    expect(operationsDoc).toContain(`\`${metric}`);
  });

  it.each(alerts.map((alert) => alert.alert as string))('explains the alert %s', (alert) => {
    expect(operationsDoc).toContain(alert);
  });
});
