import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { TaskHistoryEvent } from '@tasklane/contracts';

/** A row of `background_task_events`: one transition of a task (its history, migration 009). */
@Entity({ name: 'background_task_events' })
export class BackgroundTaskEvent {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId!: string;

  @Column({ type: 'varchar', length: 24 })
  event!: TaskHistoryEvent;

  @Column({ type: 'int', unsigned: true })
  run!: number;

  @Column({ type: 'int', unsigned: true })
  attempt!: number;

  @Column({ name: 'retry_count', type: 'tinyint', unsigned: true })
  retryCount!: number;

  @Column({ name: 'worker_id', type: 'varchar', length: 128, nullable: true })
  workerId!: string | null;

  @Column({ type: 'varchar', length: 80, nullable: true })
  actor!: string | null;

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ name: 'occurred_at', type: 'datetime', precision: 3 })
  occurredAt!: Date;
}
