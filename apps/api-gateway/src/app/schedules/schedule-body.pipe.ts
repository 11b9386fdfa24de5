import { Injectable, PipeTransform } from '@nestjs/common';
import { ValidSchedule, validateScheduleRequest } from '@tasklane/contracts';
import { invalidRequest } from '../http/api-errors';

/** Validates a `POST /api/schedules` body completely (schedule and task) into one 400 naming every bad field. */
@Injectable()
export class ScheduleBodyPipe implements PipeTransform<unknown, ValidSchedule> {
  transform(body: unknown): ValidSchedule {
    const validated = validateScheduleRequest(body);
    if (!validated.ok) {
      throw invalidRequest(validated.errors);
    }
    return validated.value;
  }
}
