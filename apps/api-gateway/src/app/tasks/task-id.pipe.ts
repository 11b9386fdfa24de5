import { Injectable } from '@nestjs/common';
import { UuidParamPipe } from '../http/uuid-param.pipe';

/** `:task_id` path parameter: a UUID (case-insensitive), else 400. */
@Injectable()
export class TaskIdPipe extends UuidParamPipe {
  constructor() {
    super('task_id');
  }
}
