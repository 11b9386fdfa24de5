import { parser } from '@prometheus-io/lezer-promql';

export interface MetricDefinition {
  type: 'counter' | 'gauge' | 'histogram';
  labels: string[];
  /** Who exports it. */
  source: string;
}

/** The metrics Tasklane's apps export (issue #5 interface); names used by alerts and docs. */
export const TASKLANE_METRICS: Readonly<Record<string, MetricDefinition>> = {
  tasklane_tasks_enqueued_total: { type: 'counter', labels: ['task_type', 'priority'], source: 'api-gateway' },
  tasklane_tasks_cancelled_total: { type: 'counter', labels: ['task_type'], source: 'api-gateway' },
  http_request_duration_seconds: {
    type: 'histogram',
    labels: ['method', 'route', 'status_code'],
    source: 'api-gateway',
  },
  tasklane_tasks_started_total: { type: 'counter', labels: ['task_type'], source: 'workers' },
  tasklane_tasks_completed_total: { type: 'counter', labels: ['task_type'], source: 'workers' },
  tasklane_tasks_failed_total: { type: 'counter', labels: ['task_type'], source: 'workers' },
  tasklane_tasks_retried_total: { type: 'counter', labels: ['task_type'], source: 'workers' },
  tasklane_task_duration_seconds: {
    type: 'histogram',
    labels: ['task_type', 'task_name', 'outcome'],
    source: 'workers',
  },
  tasklane_queue_messages_ready: { type: 'gauge', labels: ['queue'], source: 'status-tracker' },
  tasklane_pending_oldest_age_seconds: { type: 'gauge', labels: ['task_type'], source: 'status-tracker' },
  tasklane_events_persisted_total: { type: 'counter', labels: ['event'], source: 'status-tracker' },
  tasklane_event_lag_seconds: { type: 'histogram', labels: [], source: 'status-tracker' },
  tasklane_outbox_relayed_total: { type: 'counter', labels: [], source: 'status-tracker' },
  tasklane_scheduled_tasks_dispatched_total: { type: 'counter', labels: [], source: 'status-tracker' },
  tasklane_schedule_ticks_total: { type: 'counter', labels: ['outcome'], source: 'status-tracker' },
  tasklane_leases_reclaimed_total: { type: 'counter', labels: [], source: 'status-tracker' },
  tasklane_tasks_redispatched_total: { type: 'counter', labels: ['task_type', 'reason'], source: 'status-tracker' },
  tasklane_tasks_aged_total: { type: 'counter', labels: ['task_type'], source: 'status-tracker' },
  tasklane_count_changes_pending: { type: 'gauge', labels: [], source: 'status-tracker' },
};

/** Series from elsewhere that alerts may use: Prometheus itself and kube-state-metrics. */
export const EXTERNAL_METRICS: Readonly<Record<string, MetricDefinition>> = {
  up: { type: 'gauge', labels: [], source: 'Prometheus' },
  kube_deployment_spec_replicas: { type: 'gauge', labels: ['deployment'], source: 'kube-state-metrics' },
  kube_deployment_status_replicas_available: { type: 'gauge', labels: ['deployment'], source: 'kube-state-metrics' },
  process_cpu_seconds_total: { type: 'counter', labels: [], source: 'prom-client defaults' },
  process_resident_memory_bytes: { type: 'gauge', labels: [], source: 'prom-client defaults' },
};

/** Labels every scraped series carries (PodMonitor target labels). */
export const TARGET_LABELS = ['namespace', 'pod', 'container', 'job', 'instance', 'endpoint', 'service'];

/** The metric a series name belongs to (`x_bucket` → histogram `x`), or undefined when unknown. */
export function metricOf(series: string): { name: string; definition: MetricDefinition } | undefined {
  const all = { ...TASKLANE_METRICS, ...EXTERNAL_METRICS };
  if (all[series]) {
    return { name: series, definition: all[series] };
  }
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(series);
  if (histogram && all[histogram[1]]?.type === 'histogram') {
    return { name: histogram[1], definition: all[histogram[1]] };
  }
  return undefined;
}

export interface ParsedExpression {
  /** Positions of syntax errors (empty when the expression parses). */
  errors: number[];
  /** Metric names of the vector selectors. */
  series: string[];
  /** Label names used in `by (...)`, `without (...)`, `on (...)`, `ignoring (...)` and matchers. */
  labels: string[];
}

/** Parses a PromQL expression with Prometheus's own (lezer) grammar. */
export function parsePromQL(expression: string): ParsedExpression {
  const tree = parser.parse(expression);
  const result: ParsedExpression = { errors: [], series: [], labels: [] };
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) {
        result.errors.push(node.from);
      } else if (node.type.name === 'Identifier' && node.node.parent?.type.name === 'VectorSelector') {
        result.series.push(expression.slice(node.from, node.to));
      } else if (node.type.name === 'LabelName') {
        result.labels.push(expression.slice(node.from, node.to));
      }
    },
  });
  return result;
}
