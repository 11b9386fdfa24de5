import { TaskRetries, TaskPriority } from '../tasks/task-limits';
import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';
import { taskDefinition } from '../tasks/task-catalogue';
import { FieldError, Validated, validateDto } from '../validation/validate-dto';
import { validateTaskParams } from '../validation/validate-task-params';
import { EnqueueTaskDto } from './dto/enqueue-task.dto';

/** An enqueue request that passed every check, with defaults applied. */
export interface ValidEnqueueTask {
  task_name: TaskName;
  task_type: TaskType;
  params: Record<string, unknown>;
  priority: number;
  max_retries: number;
}

/**
 * Validates an enqueue request completely — shape, catalogue membership, type/name agreement
 * and the task's own params — and reports every bad field at once.
 */
export function validateEnqueueTask(body: unknown): Validated<ValidEnqueueTask> {
  const shape = validateDto(EnqueueTaskDto, body);
  const errors: FieldError[] = shape.ok ? [] : [...shape.errors];
  const badFields = new Set(errors.map((error) => error.field));
  const dto = body as EnqueueTaskDto;

  let taskType: TaskType | undefined;
  if (!badFields.has('task_name') && !badFields.has('(body)')) {
    const definition = taskDefinition(dto.task_name);
    taskType = dto.task_type ?? definition.defaultType;
    if (!badFields.has('task_type')) {
      if (taskType === undefined) {
        errors.push({
          field: 'task_type',
          message: `task_type is required for ${dto.task_name}; one of: ${definition.types.join(', ')}`,
        });
      } else if (!definition.types.includes(taskType)) {
        errors.push({
          field: 'task_type',
          message: `task_type must be ${definition.types.join(' or ')} for ${dto.task_name}`,
        });
      }
    }
    if (!badFields.has('params')) {
      const params = validateTaskParams(dto.task_name, dto.params);
      if (!params.ok) {
        errors.push(...params.errors);
      }
    }
  }

  if (errors.length > 0 || taskType === undefined) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    value: {
      task_name: dto.task_name,
      task_type: taskType,
      params: dto.params ?? {},
      priority: dto.priority ?? TaskPriority.Default,
      max_retries: dto.max_retries ?? TaskRetries.Default,
    },
  };
}
