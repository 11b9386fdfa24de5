import { Injectable, PipeTransform } from '@nestjs/common';
import { ValidEnqueueTask, validateEnqueueBatch } from '@tasklane/contracts';
import { invalidRequest } from '../http/api-errors';

/**
 * Validates a batch enqueue body all or nothing (`{tasks: [...]}`, 1 to 1,000 items, each like a
 * single enqueue) and reports every bad field with its item's index (`tasks[3].params.to`) in one
 * 400; nothing reaches the service unless every item is valid.
 */
@Injectable()
export class EnqueueBatchPipe implements PipeTransform<unknown, ValidEnqueueTask[]> {
  transform(body: unknown): ValidEnqueueTask[] {
    const validated = validateEnqueueBatch(body);
    if (!validated.ok) {
      throw invalidRequest(validated.errors);
    }
    return validated.value;
  }
}
