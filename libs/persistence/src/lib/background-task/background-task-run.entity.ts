import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { TaskStatus } from '@tasklane/contracts';

/** A row of `background_task_runs`: an earlier run of a task, archived by POST /retry. */
@Entity({ name: 'background_task_runs' })
export class BackgroundTaskRun {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'task_id', type: 'char', length: 36 })
  taskId!: string;

  @Column({ type: 'int', unsigned: true })
  run!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: TaskStatus;

  @Column({ name: 'retry_count', type: 'tinyint', unsigned: true })
  retryCount!: number;

  @Column({ type: 'json', nullable: true })
  result!: unknown;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ name: 'started_at', type: 'datetime', precision: 3, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'datetime', precision: 3, nullable: true })
  completedAt!: Date | null;

  @Column({ name: 'archived_at', type: 'datetime', precision: 3 })
  archivedAt!: Date;
}
