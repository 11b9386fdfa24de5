import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCountRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from './periodic.service';

/** Changes folded per transaction: a few milliseconds of locks on the oldest journal rows. */
const BATCH = 5_000;

/**
 * Folds the journal of count changes into the per-(task type, status) counts (ADR 0009), so that
 * a count reads a few rows whatever the table holds. Several trackers can run it: they take
 * turns (a named lock), and each change is deleted and added up in one transaction. While no
 * tracker runs, counts stay exact but read a growing journal (`tasklane_count_changes_pending`).
 */
@Injectable()
export class CountFolderService extends PeriodicService {
  protected readonly logger = new Logger(CountFolderService.name);
  /** Set at shutdown: a fold of a long journal stops after its current transaction. */
  private stopping = false;

  constructor(
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
    @Inject(TrackerEnv) env: TrackerEnv,
  ) {
    super();
    this.every(env.COUNT_FOLD_INTERVAL_MS, 'count folding', () => this.fold().then());
  }

  override beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    return super.beforeApplicationShutdown();
  }

  /** Folds until the journal is empty (or shutdown begins); returns how many changes were folded. */
  async fold(): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const folded = await this.counts.foldCountChanges(BATCH);
      total += folded;
      if (folded < BATCH) {
        break;
      }
    }
    return total;
  }
}
