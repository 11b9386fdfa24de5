import { Injectable, PipeTransform } from '@nestjs/common';
import { ValidEnqueueTask, validateEnqueueTask } from '@tasklane/contracts';
import { invalidRequest } from '../http/api-errors';

/**
 * Validates an enqueue body completely (shape, catalogue, the task's params DTO) and reports
 * every bad field in one 400; nothing reaches the service unless all of it is valid.
 */
@Injectable()
export class EnqueueTaskPipe implements PipeTransform<unknown, ValidEnqueueTask> {
  transform(body: unknown): ValidEnqueueTask {
    const validated = validateEnqueueTask(body);
    if (!validated.ok) {
      throw invalidRequest(validated.errors);
    }
    return validated.value;
  }
}
