/** What the gateway broadcasts to every worker about running tasks. */
export enum TaskControlType {
  /** The task was cancelled: whoever runs it aborts its handler. */
  Cancel = 'cancel',
}

/** Body of a message on the `tasklane.control` fanout exchange. */
export interface TaskControlMessage {
  type: TaskControlType;
  task_id: string;
  /** The task's generation after the change: only claims older than it are affected. */
  attempt: number;
}
