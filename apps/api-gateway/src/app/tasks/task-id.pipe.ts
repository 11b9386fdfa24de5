import { Injectable, PipeTransform } from '@nestjs/common';
import { isTaskId } from '@tasklane/contracts';
import { invalidRequest } from '../http/api-errors';

/** `:task_id` path parameter: a UUID (case-insensitive), else 400. */
@Injectable()
export class TaskIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    const taskId = value.toLowerCase();
    if (!isTaskId(taskId)) {
      throw invalidRequest([{ field: 'task_id', message: 'task_id must be a UUID' }]);
    }
    return taskId;
  }
}
