import { DashboardSummary, TASK_STATUSES, TASK_TYPES, ThroughputSample } from '@tasklane/contracts/browser';
import { ApiClient } from './api/api-client';
import { usePoll } from './use-poll';

function Sparkline(props: { samples: ThroughputSample[]; intervalMs: number }) {
  const width = 240;
  const height = 40;
  const values = props.samples.map((sample) => sample.completed + sample.failed);
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map(
    (value, index) => `${(index * step).toFixed(1)},${(height - (value / max) * height).toFixed(1)}`,
  );
  const last = props.samples[props.samples.length - 1];
  const perSecond = last ? ((last.completed + last.failed) / (props.intervalMs / 1000)).toFixed(1) : '0';
  return (
    <figure class="sparkline">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-label="Tasks finished per interval over the last minutes"
      >
        {points.length > 1 ? <polyline points={points.join(' ')} /> : null}
      </svg>
      <figcaption>
        {values.length === 0
          ? 'collecting…'
          : `${perSecond} tasks/s now · peak ${max} per ${props.intervalMs / 1000} s`}
      </figcaption>
    </figure>
  );
}

/** Live counts by status × type, queue depths and recent throughput. */
export function Overview(props: { api: ApiClient }) {
  const summary = usePoll(() => props.api.get<DashboardSummary>('/api/dashboard/summary'), 2_000, []);
  const data = summary.data;
  const count = (type: string, status: string) =>
    data?.counts.find((cell) => cell.task_type === type && cell.status === status)?.count ?? 0;
  return (
    <section aria-labelledby="overview-title" class="overview">
      <h2 id="overview-title">Overview</h2>
      {summary.error ? (
        <p class="error" role="alert">
          {summary.error}
        </p>
      ) : null}
      <div class="panels">
        <div class="scroll">
          <table class="counts" data-testid="counts">
            <caption>Tasks by type and status</caption>
            <thead>
              <tr>
                <th scope="col">type</th>
                {TASK_STATUSES.map((status) => (
                  <th scope="col" key={status}>
                    {status}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {TASK_TYPES.map((type) => (
                <tr key={type}>
                  <th scope="row">{type}</th>
                  {TASK_STATUSES.map((status) => (
                    <td key={status} data-cell={`${type}.${status}`} class={`status-${status}`}>
                      <a href={`#/?task_type=${type}&status=${status}`}>{count(type, status)}</a>
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="scroll">
          <table class="queues">
            <caption>Queues</caption>
            <thead>
              <tr>
                <th scope="col">queue</th>
                <th scope="col">ready</th>
                <th scope="col">consumers</th>
              </tr>
            </thead>
            <tbody>
              {(data?.queues ?? []).map((queue) => (
                <tr key={queue.queue}>
                  <th scope="row">{queue.queue}</th>
                  <td>{queue.ready ?? '?'}</td>
                  <td>{queue.consumers ?? '?'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Finished, last 10 minutes</h3>
          <Sparkline samples={data?.throughput.samples ?? []} intervalMs={data?.throughput.interval_ms ?? 5_000} />
        </div>
      </div>
    </section>
  );
}
