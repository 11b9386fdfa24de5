import { useState } from 'preact/hooks';
import {
  CallerResource,
  TaskEventPage,
  TaskHistoryEvent,
  TaskResource,
  TaskRunResource,
  TaskStatus,
} from '@tasklane/contracts/browser';
import { ApiClient } from './api/api-client';
import { ConfirmDialog } from './confirm-dialog';
import { formatDuration, formatTime } from './format';
import { usePoll } from './use-poll';

type Action = 'cancel' | 'retry';

const CANCELLABLE: readonly TaskStatus[] = [TaskStatus.Pending, TaskStatus.Running];
const RETRYABLE: readonly TaskStatus[] = [TaskStatus.Failed, TaskStatus.Cancelled];
const ERROR_EVENTS: readonly TaskHistoryEvent[] = [
  TaskHistoryEvent.Retrying,
  TaskHistoryEvent.Failed,
  TaskHistoryEvent.LeaseReclaimed,
];

function Json(props: { value: unknown }) {
  return <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>;
}

/** One task: its fields, its actions, its earlier runs and its whole history as a timeline. */
export function TaskPageView(props: { api: ApiClient; caller: CallerResource; taskId: string }) {
  const base = `/api/tasks/${props.taskId}`;
  const task = usePoll(() => props.api.get<TaskResource>(base), 1_000, [base]);
  const events = usePoll(() => props.api.get<TaskEventPage>(`${base}/events?limit=1000`), 1_000, [base]);
  const runs = usePoll(() => props.api.get<TaskRunResource[]>(`${base}/runs`), 5_000, [base]);
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const act = async (action: Action) => {
    setConfirming(null);
    try {
      const after = await props.api.post<TaskResource>(`${base}/${action}`);
      setNotice(action === 'cancel' ? `Cancelled (was running or pending).` : `Re-queued as run ${after.run}.`);
    } catch (error) {
      setNotice(`Could not ${action}: ${(error as Error).message}`);
    }
    task.refresh();
    events.refresh();
    runs.refresh();
  };
  if (task.error && !task.data) {
    return (
      <p class="error" role="alert">
        {task.error}
      </p>
    );
  }
  const current = task.data;
  if (!current) {
    return <p class="muted">Loading…</p>;
  }
  return (
    <article aria-labelledby="task-title">
      <p>
        <a href="#/">← All tasks</a>
      </p>
      <h2 id="task-title">
        {current.task_name}{' '}
        <span class={`badge status-${current.status}`} data-testid="task-status">
          {current.status}
        </span>
      </h2>
      {props.caller.can_write ? (
        <div class="row actions">
          {CANCELLABLE.includes(current.status) ? (
            <button type="button" class="danger" onClick={() => setConfirming('cancel')} data-action="cancel">
              Cancel task
            </button>
          ) : null}
          {RETRYABLE.includes(current.status) ? (
            <button type="button" onClick={() => setConfirming('retry')} data-action="retry">
              Retry as a new run
            </button>
          ) : null}
        </div>
      ) : (
        <p class="muted">Read-only key: no actions.</p>
      )}
      {confirming ? (
        <ConfirmDialog
          question={
            confirming === 'cancel'
              ? `Cancel ${current.task_name} ${current.task_id}? A running handler is aborted.`
              : `Re-queue ${current.task_name} ${current.task_id} as run ${current.run + 1}?`
          }
          confirmLabel={confirming === 'cancel' ? 'Cancel task' : 'Retry'}
          onConfirm={() => void act(confirming)}
          onCancel={() => setConfirming(null)}
        />
      ) : null}
      {notice ? <p role="status">{notice}</p> : null}
      <dl class="fields">
        <dt>task_id</dt>
        <dd class="mono">{current.task_id}</dd>
        <dt>type</dt>
        <dd>{current.task_type}</dd>
        <dt>priority</dt>
        <dd>{current.priority}</dd>
        <dt>run</dt>
        <dd>{current.run}</dd>
        <dt>retries</dt>
        <dd>
          {current.retry_count} of {current.max_retries}
        </dd>
        <dt>timeout</dt>
        <dd>{current.timeout_ms} ms</dd>
        <dt>created</dt>
        <dd>{formatTime(current.created_at)}</dd>
        {current.run_at ? (
          <>
            <dt>run at</dt>
            <dd>{formatTime(current.run_at)}</dd>
          </>
        ) : null}
        <dt>started</dt>
        <dd>{formatTime(current.started_at)}</dd>
        {current.progress !== null ? (
          <>
            <dt>progress</dt>
            <dd data-testid="task-progress">
              <progress max={100} value={current.progress} /> {current.progress}%
              {current.progress_message ? ` — ${current.progress_message}` : ''}
            </dd>
          </>
        ) : null}
        <dt>completed</dt>
        <dd>
          {formatTime(current.completed_at)} ({formatDuration(current.started_at, current.completed_at)})
        </dd>
        {current.error_message ? (
          <>
            <dt>error</dt>
            <dd class="error-text">{current.error_message}</dd>
          </>
        ) : null}
      </dl>
      <h3>Params</h3>
      <Json value={current.params} />
      <h3>Result</h3>
      <Json value={current.result} />
      <h3>History</h3>
      <ol class="timeline" data-testid="timeline">
        {(events.data?.items ?? []).map((event) => (
          <li key={event.event_id} data-event={event.event} class={ERROR_EVENTS.includes(event.event) ? 'bad' : ''}>
            <time dateTime={event.occurred_at}>{formatTime(event.occurred_at)}</time>
            <strong>{event.event}</strong>
            <span class="muted">
              run {event.run} · attempt {event.attempt} · retry {event.retry_count}
              {event.worker_id ? ` · worker ${event.worker_id}` : ''}
              {event.actor ? ` · by ${event.actor}` : ''}
            </span>
            {event.message ? <div class="error-text">{event.message}</div> : null}
          </li>
        ))}
      </ol>
      {(runs.data ?? []).length > 0 ? (
        <>
          <h3>Earlier runs</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">run</th>
                <th scope="col">status</th>
                <th scope="col">retries</th>
                <th scope="col">ended</th>
                <th scope="col">error</th>
              </tr>
            </thead>
            <tbody>
              {(runs.data ?? []).map((run) => (
                <tr key={run.run}>
                  <td>{run.run}</td>
                  <td>
                    <span class={`badge status-${run.status}`}>{run.status}</span>
                  </td>
                  <td>{run.retry_count}</td>
                  <td>{formatTime(run.completed_at)}</td>
                  <td class="error-text">{run.error_message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </article>
  );
}
