import { Expose } from 'class-transformer';
import { IsString, MinLength } from 'class-validator';
import { WorkerEnv } from '@tasklane/worker-runtime';

export class ReportWorkerEnv extends WorkerEnv {
  /** Folder the report files are written to. */
  @Expose()
  @IsString()
  @MinLength(1)
  readonly REPORTS_DIR: string = 'var/reports';
}
