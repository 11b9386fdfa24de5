import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { TaskName, TaskStatus, TaskType } from '@tasklane/contracts';

/** A row of `background_tasks`: the durable state of one task. The schema is owned by the migrations. */
@Entity({ name: 'background_tasks' })
export class BackgroundTask {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId!: string;

  @Column({ name: 'task_name', type: 'varchar', length: 100 })
  taskName!: TaskName;

  @Column({ name: 'task_type', type: 'varchar', length: 32 })
  taskType!: TaskType;

  @Column({ type: 'tinyint', unsigned: true })
  priority!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: TaskStatus;

  @Column({ type: 'json', nullable: true })
  params!: Record<string, unknown> | null;

  @Column({ type: 'json', nullable: true })
  result!: unknown;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ name: 'retry_count', type: 'tinyint', unsigned: true })
  retryCount!: number;

  @Column({ name: 'max_retries', type: 'tinyint', unsigned: true })
  maxRetries!: number;

  /** How long one attempt may run (ms); NULL for rows older than timeouts: the catalogue default. */
  @Column({ name: 'timeout_ms', type: 'int', unsigned: true, nullable: true })
  timeoutMs!: number | null;

  /** 1 for the first run, +1 per re-queue with POST /retry. */
  @Column({ type: 'int', unsigned: true })
  run!: number;

  /** Generation of the task's claim: bumped by every claim, release and reclaim (a fencing token). */
  @Column({ type: 'int', unsigned: true })
  attempt!: number;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'datetime', precision: 3, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'datetime', precision: 3, nullable: true })
  completedAt!: Date | null;

  /** Until when the claiming worker is known alive; NULL unless running. */
  @Column({ name: 'lease_expires_at', type: 'datetime', precision: 3, nullable: true })
  leaseExpiresAt!: Date | null;

  /** When the broker confirmed the task's command; NULL while it waits in the outbox. */
  @Column({ name: 'dispatched_at', type: 'datetime', precision: 3, nullable: true })
  dispatchedAt!: Date | null;

  /** When a pending task's command is due in its queue (a retry: the end of its delay); NULL: once dispatched. */
  @Column({ name: 'due_at', type: 'datetime', precision: 3, nullable: true })
  dueAt!: Date | null;

  /** When the enqueue asked the task to start (`run_at` / `delay_ms`); NULL: as soon as possible. */
  @Column({ name: 'run_at', type: 'datetime', precision: 3, nullable: true })
  runAt!: Date | null;

  /** What the running attempt's handler last reported (0–100), or null; cleared by a new attempt. */
  @Column({ type: 'tinyint', unsigned: true, nullable: true })
  progress!: number | null;

  @Column({ name: 'progress_message', type: 'varchar', length: 255, nullable: true })
  progressMessage!: string | null;
}
