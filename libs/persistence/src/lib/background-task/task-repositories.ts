import { DataSource } from 'typeorm';
import { TaskClaimRepository } from './task-claim.repository';
import { TaskControlRepository } from './task-control.repository';
import { TaskCountRepository } from './task-count.repository';
import { TaskEventRepository } from './task-event.repository';
import { TaskOutboxRepository } from './task-outbox.repository';
import { TaskQueryRepository } from './task-query.repository';
import { TaskHistoryRepository } from '../task-history/task-history.repository';

/** Every repository of `background_tasks`, one per concern. */
export interface TaskRepositories {
  readonly outbox: TaskOutboxRepository;
  readonly claims: TaskClaimRepository;
  readonly events: TaskEventRepository;
  readonly control: TaskControlRepository;
  readonly queries: TaskQueryRepository;
  readonly counts: TaskCountRepository;
  readonly history: TaskHistoryRepository;
}

/** The repositories of `background_tasks` on one data source, outside Nest (tools, tests). */
export function createTaskRepositories(dataSource: DataSource): TaskRepositories {
  const counts = new TaskCountRepository(dataSource);
  return {
    outbox: new TaskOutboxRepository(dataSource),
    claims: new TaskClaimRepository(dataSource),
    events: new TaskEventRepository(dataSource),
    control: new TaskControlRepository(dataSource),
    queries: new TaskQueryRepository(dataSource, counts),
    counts,
    history: new TaskHistoryRepository(dataSource),
  };
}
