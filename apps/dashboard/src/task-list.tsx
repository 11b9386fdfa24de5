import { useState } from 'preact/hooks';
import {
  CallerResource,
  RetryFailedResult,
  TASK_NAMES,
  TASK_STATUSES,
  TASK_TYPES,
  TaskPage,
  TaskPriority,
  TaskStatus,
} from '@tasklane/contracts/browser';
import { ApiClient, queryString } from './api/api-client';
import { ConfirmDialog } from './confirm-dialog';
import { formatTime, localInputToIso } from './format';
import { usePoll } from './use-poll';

/** The list's filters, as they stand in the page's address (`#/?status=failed&q=…`). */
export type ListFilters = Record<'status' | 'task_type' | 'task_name' | 'priority' | 'from' | 'to' | 'q', string>;

export const NO_FILTERS: ListFilters = {
  status: '',
  task_type: '',
  task_name: '',
  priority: '',
  from: '',
  to: '',
  q: '',
};

/** The API's query for the filters (the time window in UTC). */
function apiFilters(filters: ListFilters) {
  return {
    status: filters.status,
    task_type: filters.task_type,
    task_name: filters.task_name,
    priority: filters.priority,
    created_after: localInputToIso(filters.from),
    created_before: localInputToIso(filters.to),
    q: filters.q.trim(),
  };
}

const PRIORITIES = Array.from(
  { length: TaskPriority.Max - TaskPriority.Min + 1 },
  (_, index) => TaskPriority.Max - index,
);

function Select(props: {
  label: string;
  name: keyof ListFilters;
  value: string;
  options: readonly (string | number)[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select
        name={props.name}
        value={props.value}
        onChange={(event) => props.onChange((event.target as HTMLSelectElement).value)}
      >
        <option value="">any</option>
        {props.options.map((option) => (
          <option key={option} value={String(option)}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Tasks newest first with filters, keyset paging and live updates of the first page. */
export function TaskList(props: {
  api: ApiClient;
  caller: CallerResource;
  filters: ListFilters;
  onFilters: (filters: ListFilters) => void;
}) {
  const [draft, setDraft] = useState<ListFilters>(props.filters);
  const [cursors, setCursors] = useState<string[]>([]);
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];
  const query = queryString({ ...apiFilters(props.filters), limit: 25, cursor });
  // The first page follows new tasks live; older pages stay put while read.
  const page = usePoll(() => props.api.get<TaskPage>(`/api/tasks/${query}`), cursor === undefined ? 1_000 : 60_000, [
    query,
  ]);
  const set = (name: keyof ListFilters) => (value: string) => setDraft({ ...draft, [name]: value });
  const apply = (event: Event) => {
    event.preventDefault();
    setCursors([]);
    props.onFilters(draft);
  };
  const retryFailed = async () => {
    setConfirming(false);
    try {
      // Only failed tasks are retried, whatever the status filter says.
      const filters = { ...apiFilters(props.filters), status: '' };
      const body = Object.fromEntries(
        Object.entries({ ...filters, priority: filters.priority === '' ? undefined : Number(filters.priority) }).filter(
          ([, value]) => value !== '' && value !== undefined,
        ),
      );
      const result = await props.api.post<RetryFailedResult>('/api/tasks/retry-failed', body);
      setNotice(
        `Re-queued ${result.retried.length} failed task(s)${result.more ? '; more match — retry again for the next ones' : ''}.`,
      );
      page.refresh();
    } catch (error) {
      setNotice(`Retry failed: ${(error as Error).message}`);
    }
  };
  return (
    <section aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks</h2>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        <Select label="Status" name="status" value={draft.status} options={TASK_STATUSES} onChange={set('status')} />
        <Select
          label="Type"
          name="task_type"
          value={draft.task_type}
          options={TASK_TYPES}
          onChange={set('task_type')}
        />
        <Select
          label="Name"
          name="task_name"
          value={draft.task_name}
          options={TASK_NAMES}
          onChange={set('task_name')}
        />
        <Select
          label="Priority"
          name="priority"
          value={draft.priority}
          options={PRIORITIES}
          onChange={set('priority')}
        />
        <label>
          Created from
          <input
            type="datetime-local"
            name="from"
            value={draft.from}
            onInput={(event) => set('from')((event.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          to
          <input
            type="datetime-local"
            name="to"
            value={draft.to}
            onInput={(event) => set('to')((event.target as HTMLInputElement).value)}
          />
        </label>
        <label class="grow">
          Search params and results
          <input
            type="search"
            name="q"
            value={draft.q}
            maxLength={200}
            placeholder="e.g. ada@example.com"
            onInput={(event) => set('q')((event.target as HTMLInputElement).value)}
          />
        </label>
        <div class="row">
          <button type="submit">Apply</button>
          <button
            type="button"
            onClick={() => {
              setDraft(NO_FILTERS);
              setCursors([]);
              props.onFilters(NO_FILTERS);
            }}
          >
            Clear
          </button>
          {props.caller.can_write ? (
            <button type="button" class="danger" onClick={() => setConfirming(true)} data-action="retry-failed">
              Retry failed matching…
            </button>
          ) : null}
        </div>
      </form>
      {confirming ? (
        <ConfirmDialog
          question="Re-queue up to 50 failed tasks matching these filters (newest first), each as a new run?"
          confirmLabel="Retry them"
          onConfirm={() => void retryFailed()}
          onCancel={() => setConfirming(false)}
        />
      ) : null}
      {notice ? <p role="status">{notice}</p> : null}
      {page.error ? (
        <p class="error" role="alert">
          {page.error}
        </p>
      ) : null}
      <div class="scroll">
        <table class="tasks" data-testid="task-list">
          <thead>
            <tr>
              <th scope="col">created</th>
              <th scope="col">task</th>
              <th scope="col">type</th>
              <th scope="col">prio</th>
              <th scope="col">status</th>
              <th scope="col">retries</th>
            </tr>
          </thead>
          <tbody>
            {(page.data?.items ?? []).map((task) => (
              <tr key={task.task_id} data-task-id={task.task_id}>
                <td>{formatTime(task.created_at)}</td>
                <td>
                  <a href={`#/tasks/${task.task_id}`}>{task.task_name}</a>
                  <div class="muted mono">{task.task_id}</div>
                </td>
                <td>{task.task_type}</td>
                <td>{task.priority}</td>
                <td>
                  <span class={`badge status-${task.status}`}>{task.status}</span>
                </td>
                <td>
                  {task.retry_count}/{task.max_retries}
                  {task.status === TaskStatus.Failed && task.error_message ? (
                    <div class="muted clip">{task.error_message}</div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.data && page.data.items.length === 0 ? <p class="muted">No task matches.</p> : null}
      <nav class="row" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <button
          type="button"
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
        >
          Older →
        </button>
      </nav>
    </section>
  );
}
