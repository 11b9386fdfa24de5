import { TaskParamsOf, taskDefinition } from '../tasks/task-catalogue';
import { TaskName } from '../tasks/task-name.enum';
import { inspectJsonValue } from './json-safety';
import { Validated, validateDto } from './validate-dto';

/** Validates `params` against the DTO the catalogue gives for `name` (gateway and worker alike). */
export function validateTaskParams<N extends TaskName>(name: N, params: unknown): Validated<TaskParamsOf<N>> {
  // Prototype keys, unpaired surrogates, unsafe numbers and deep nesting never reach the DTO.
  const unsafe = inspectJsonValue(params, 'params');
  if (unsafe.length > 0) {
    return { ok: false, errors: unsafe };
  }
  return validateDto(taskDefinition(name).paramsClass, params ?? {}, 'params');
}
