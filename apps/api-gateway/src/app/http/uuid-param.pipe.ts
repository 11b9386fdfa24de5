import { PipeTransform } from '@nestjs/common';
import { isTaskId } from '@tasklane/contracts';
import { invalidRequest } from './api-errors';

/** A UUID path parameter (case-insensitive, returned lower-case), else a 400 naming it. */
export class UuidParamPipe implements PipeTransform<string, string> {
  constructor(private readonly field: string) {}

  transform(value: string): string {
    const id = value.toLowerCase();
    if (!isTaskId(id)) {
      throw invalidRequest([{ field: this.field, message: `${this.field} must be a UUID` }]);
    }
    return id;
  }
}
