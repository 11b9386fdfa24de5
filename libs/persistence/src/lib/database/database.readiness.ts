import { Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ProvidesReadiness, ReadinessCheck } from '@tasklane/observability';

const CACHE_MS = 1_000;

/** Ready while the database answers `SELECT 1` (checked at most once a second). */
@ProvidesReadiness()
export class DatabaseReadiness implements ReadinessCheck {
  readonly name = 'database';
  private checkedAt = 0;
  private last: Promise<boolean> = Promise.resolve(false);

  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  isReady(): Promise<boolean> {
    if (Date.now() - this.checkedAt >= CACHE_MS) {
      this.checkedAt = Date.now();
      this.last = this.dataSource.query('SELECT 1').then(
        () => true,
        () => false,
      );
    }
    return this.last;
  }
}
