import { Inject, Injectable } from '@nestjs/common';
import { createWriteStream, WriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { ReportFormat, TaskName, TasksSummaryReportParams, TasksSummaryReportResult } from '@tasklane/contracts';
import { ReportTaskRow, TaskReportingRepository } from '@tasklane/persistence';
import { HandlesTask, TaskContext, resolveTimeWindow } from '@tasklane/worker-runtime';
import { ReportWorkerEnv } from '../report-worker.env';

/** Rows read per query; the report streams, so memory stays flat whatever the window. */
const BATCH_SIZE = 1_000;

export const REPORT_COLUMNS = [
  'task_id',
  'task_name',
  'task_type',
  'priority',
  'status',
  'retry_count',
  'created_at',
  'started_at',
  'completed_at',
  'duration_ms',
  'error_message',
] as const;

export type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number | null>;

export function csvField(value: string | number | null): string {
  if (value === null) {
    return '';
  }
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function toReportRow(row: ReportTaskRow): ReportRow {
  return {
    task_id: row.task_id,
    task_name: row.task_name,
    task_type: row.task_type,
    priority: row.priority,
    status: row.status,
    retry_count: row.retry_count,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    completed_at: row.completed_at?.toISOString() ?? null,
    duration_ms: row.started_at && row.completed_at ? row.completed_at.getTime() - row.started_at.getTime() : null,
    error_message: row.error_message,
  };
}

/** Writes the tasks created in a window to a CSV or JSON file, streaming in keyset batches. */
@Injectable()
export class TasksSummaryReportService {
  private readonly reportsDir: string;

  constructor(
    @Inject(TaskReportingRepository) private readonly reporting: Pick<TaskReportingRepository, 'page'>,
    @Inject(ReportWorkerEnv) env: ReportWorkerEnv,
  ) {
    this.reportsDir = resolve(env.REPORTS_DIR);
  }

  @HandlesTask(TaskName.ReportTasksSummary)
  async generate(
    params: TasksSummaryReportParams,
    { taskId, signal }: Pick<TaskContext, 'taskId' | 'signal'>,
  ): Promise<TasksSummaryReportResult> {
    const window = resolveTimeWindow(params);
    const format = params.format ?? ReportFormat.Csv;
    await mkdir(this.reportsDir, { recursive: true });
    const path = join(this.reportsDir, `tasks-summary-${taskId}.${format}`);
    const partial = `${path}.partial`;
    const out = createWriteStream(partial);
    let rowCount = 0;
    try {
      await write(out, format === ReportFormat.Csv ? `${REPORT_COLUMNS.join(',')}\n` : '[');
      let afterId = 0;
      for (;;) {
        signal.throwIfAborted();
        const rows = await this.reporting.page({ ...window, taskType: params.task_type }, afterId, BATCH_SIZE);
        for (const row of rows) {
          const record = toReportRow(row);
          const line =
            format === ReportFormat.Csv
              ? `${REPORT_COLUMNS.map((column) => csvField(record[column])).join(',')}\n`
              : `${rowCount === 0 ? '\n' : ',\n'}${JSON.stringify(record)}`;
          await write(out, line);
          rowCount += 1;
        }
        if (rows.length < BATCH_SIZE) {
          break;
        }
        afterId = rows[rows.length - 1].id;
      }
      if (format === ReportFormat.Json) {
        await write(out, rowCount === 0 ? ']\n' : '\n]\n');
      }
      out.end();
      await once(out, 'finish');
      await rename(partial, path);
    } catch (error) {
      out.destroy();
      await unlink(partial).catch(() => undefined);
      throw error;
    }
    const { size } = await stat(path);
    return {
      path,
      format,
      size_bytes: size,
      row_count: rowCount,
      from: window.from.toISOString(),
      to: window.to.toISOString(),
    };
  }
}

async function write(out: WriteStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) {
    await once(out, 'drain');
  }
}
