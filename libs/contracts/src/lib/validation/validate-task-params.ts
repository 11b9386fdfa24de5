import { TaskParamsOf, taskDefinition } from '../tasks/task-catalogue';
import { TaskName } from '../tasks/task-name.enum';
import { Validated, validateDto } from './validate-dto';

/** Validates `params` against the DTO the catalogue gives for `name` (gateway and worker alike). */
export function validateTaskParams<N extends TaskName>(name: N, params: unknown): Validated<TaskParamsOf<N>> {
  return validateDto(taskDefinition(name).paramsClass, params ?? {}, 'params');
}
