import { TASK_CATALOGUE, isTaskName, taskDefinition, taskNamesForType } from './task-catalogue';
import { TASK_NAMES, TaskName } from './task-name.enum';
import { TASK_TYPES, TaskType } from './task-type.enum';

describe('TASK_CATALOGUE', () => {
  it('has exactly one entry per task name', () => {
    expect(Object.keys(TASK_CATALOGUE).sort()).toEqual([...TASK_NAMES].sort());
  });

  it.each(TASK_NAMES)('names %s by its key and defaults to one of its own types', (name) => {
    const definition = taskDefinition(name);
    expect(definition.name).toBe(name);
    expect(definition.types.length).toBeGreaterThan(0);
    if (definition.defaultType !== undefined) {
      expect(definition.types).toContain(definition.defaultType);
    }
  });
});

describe('taskNamesForType', () => {
  it.each([
    [TaskType.Email, TaskName.EmailSend],
    [TaskType.Report, TaskName.ReportTasksSummary],
    [TaskType.Analytics, TaskName.AnalyticsTaskStats],
    [TaskType.Cleanup, TaskName.CleanupPurgeTasks],
  ])('gives the %s worker its own task and the two diagnostics', (type, own) => {
    expect(taskNamesForType(type).sort()).toEqual([own, TaskName.DiagnosticSleep, TaskName.DiagnosticFail].sort());
  });

  it('leaves no task name without a worker type', () => {
    const handled = new Set(TASK_TYPES.flatMap((type) => taskNamesForType(type)));
    expect([...handled].sort()).toEqual([...TASK_NAMES].sort());
  });
});

describe('isTaskName', () => {
  it.each(TASK_NAMES)('accepts %s', (name) => {
    expect(isTaskName(name)).toBe(true);
  });

  it.each(['EmailSend', 'email', 'toString', 'constructor', '__proto__', '', 42, null, undefined])(
    'rejects %p',
    (value) => {
      expect(isTaskName(value)).toBe(false);
    },
  );
});
