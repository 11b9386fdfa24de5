import { TaskResource, TaskType } from '@tasklane/contracts';
import { sleep } from './shared-services';
import { TasklaneSystem } from './tasklane-system';

export interface LoadOptions {
  /** Tasks to enqueue (each `diagnostic.sleep`). */
  count: number;
  /** Enqueue requests in flight at once (default 4). */
  concurrency?: number;
  /** Start at most this many enqueues per second, spreading the load over time (default: as fast as answered). */
  ratePerSecond?: number;
  /** Worker type(s) the tasks run on; several are used in turn. */
  taskType: TaskType | TaskType[];
  /** Sleep of each task in ms: a fixed value, a [min, max] range drawn at random, or drawn by a function. */
  sleepMs: number | [number, number] | (() => number);
  priority?: number;
  /** Pause before a client retries after a 503 or a failed request (default 250 ms). */
  retryPauseMs?: number;
  /** Time after which a client gives up on one task and fails the load (default 180 s). */
  giveUpAfterMs?: number;
  /** Called with each accepted task, as soon as its 201 arrives. */
  onAccepted?: (task: TaskResource) => void;
}

/**
 * A client population enqueueing `diagnostic.sleep` tasks over HTTP while a scenario injects
 * faults. It does what a real client does: a 201 means the task is accepted (its id recorded);
 * a 503 (dependency down) or a failed request (gateway down or restarting) is retried after a
 * short pause. Any other answer is recorded and fails the scenario.
 */
export class LoadGenerator {
  /** Task ids answered 201, in order. */
  readonly accepted: string[] = [];
  /** The accepted tasks as the gateway returned them (params included). */
  readonly tasks = new Map<string, TaskResource>();
  /** 503 answers, each retried. */
  unavailable = 0;
  /** Requests that failed without an answer (connection refused or reset, timeout), each retried. */
  failedRequests = 0;
  /** Answers other than 201 and 503. */
  readonly unexpected: string[] = [];
  readonly done: Promise<void>;
  private next = 0;
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly system: TasklaneSystem,
    private readonly options: LoadOptions,
  ) {
    const lanes = Array.from({ length: options.concurrency ?? 4 }, (_, lane) => this.lane(lane));
    this.done = Promise.all(lanes).then(() => undefined);
    // The scenario awaits `done` later; a failure must not count as unhandled meanwhile.
    this.done.catch(() => undefined);
  }

  /** Enqueues no further tasks (requests in flight still finish). */
  stop(): void {
    this.stopped = true;
  }

  get enqueued(): number {
    return this.accepted.length;
  }

  /** One line for the scenario's notes. */
  summary(): string {
    const parts = [`${this.unavailable}× 503 retried`, `${this.failedRequests}× request failed, retried`];
    if (this.unexpected.length > 0) {
      parts.push(`unexpected answers: ${this.unexpected.slice(0, 3).join('; ')}`);
    }
    return `client: ${parts.join(', ')}`;
  }

  private async lane(lane: number): Promise<void> {
    const types = Array.isArray(this.options.taskType) ? this.options.taskType : [this.options.taskType];
    for (;;) {
      const index = this.next;
      if (this.stopped || index >= this.options.count) {
        return;
      }
      this.next += 1;
      if (this.options.ratePerSecond) {
        const due = this.startedAt + (index * 1_000) / this.options.ratePerSecond;
        await sleep(Math.max(0, due - Date.now()));
      }
      await this.enqueueOne(types[(index + lane) % types.length]);
    }
  }

  private sleepMs(): number {
    const { sleepMs } = this.options;
    if (typeof sleepMs === 'function') {
      return sleepMs();
    }
    return typeof sleepMs === 'number'
      ? sleepMs
      : sleepMs[0] + Math.floor(Math.random() * (sleepMs[1] - sleepMs[0] + 1));
  }

  private async enqueueOne(taskType: TaskType): Promise<void> {
    const body = {
      task_name: 'diagnostic.sleep',
      task_type: taskType,
      params: { ms: this.sleepMs() },
      ...(this.options.priority === undefined ? {} : { priority: this.options.priority }),
    };
    const giveUpAt = Date.now() + (this.options.giveUpAfterMs ?? 180_000);
    for (;;) {
      let status: number | null = null;
      let answer: unknown;
      try {
        const response = await this.system.post<TaskResource>('/api/tasks/enqueue', body);
        status = response.status;
        answer = response.body;
      } catch {
        this.failedRequests += 1;
      }
      if (status === 201) {
        const task = answer as TaskResource;
        this.accepted.push(task.task_id);
        this.tasks.set(task.task_id, task);
        this.options.onAccepted?.(task);
        return;
      }
      if (status === 503) {
        this.unavailable += 1;
      } else if (status !== null) {
        this.unexpected.push(`${status} ${JSON.stringify(answer).slice(0, 200)}`);
        if (status < 500) {
          throw new Error(`enqueue answered ${status}: ${JSON.stringify(answer)}`);
        }
      }
      if (Date.now() > giveUpAt) {
        throw new Error(`the gateway did not accept a task for ${this.options.giveUpAfterMs ?? 180_000} ms`);
      }
      await sleep(this.options.retryPauseMs ?? 250);
    }
  }
}

export function startLoad(system: TasklaneSystem, options: LoadOptions): LoadGenerator {
  return new LoadGenerator(system, options);
}
