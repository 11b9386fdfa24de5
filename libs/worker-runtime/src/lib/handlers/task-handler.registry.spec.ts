import { Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { TaskName, TaskType } from '@tasklane/contracts';
import { TaskHandler } from './task-handler';
import { HandlerRegistrationError, TaskHandlerRegistry } from './task-handler.registry';

type Found = { name: TaskName; instance: TaskHandler<TaskName>; className: string };

function handler(name: TaskName, className: string): Found {
  return { name, className, instance: { run: jest.fn() } as TaskHandler<TaskName> };
}

const sendEmail = handler(TaskName.EmailSend, 'SendEmailHandler');
const sleep = handler(TaskName.DiagnosticSleep, 'SleepHandler');
const fail = handler(TaskName.DiagnosticFail, 'FailHandler');

function emailRegistry(): TaskHandlerRegistry {
  return new TaskHandlerRegistry({} as DiscoveryService, TaskType.Email);
}

function registrationError(found: Found[]): HandlerRegistrationError {
  try {
    emailRegistry().register(found);
  } catch (error) {
    expect(error).toBeInstanceOf(HandlerRegistrationError);
    return error as HandlerRegistrationError;
  }
  throw new Error('expected register() to throw');
}

describe('TaskHandlerRegistry.register', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('accepts exactly the email task names on the email worker', () => {
    const registry = emailRegistry();
    expect(() => registry.register([sendEmail, sleep, fail])).not.toThrow();
    expect(registry.get(TaskName.EmailSend)).toBe(sendEmail.instance);
    expect(registry.get(TaskName.DiagnosticSleep)).toBe(sleep.instance);
    expect(registry.get(TaskName.DiagnosticFail)).toBe(fail.instance);
  });

  it.each([
    [TaskName.EmailSend, [sleep, fail]],
    [TaskName.DiagnosticSleep, [sendEmail, fail]],
    [TaskName.DiagnosticFail, [sendEmail, sleep]],
  ])('names the missing handler of %s', (missing, found) => {
    expect(registrationError(found).message).toContain(`${missing} (type email) has no handler`);
  });

  it('names both handlers of a duplicated task name', () => {
    const error = registrationError([sendEmail, sleep, fail, handler(TaskName.EmailSend, 'OtherSendHandler')]);
    expect(error.message).toContain('email.send has two handlers: SendEmailHandler and OtherSendHandler');
  });

  it("names a handler for another type's task", () => {
    const error = registrationError([sendEmail, sleep, fail, handler(TaskName.ReportTasksSummary, 'ReportHandler')]);
    expect(error.message).toContain('ReportHandler handles report.tasks_summary, which is not a task of type email');
  });

  it('lists every problem in one error', () => {
    const error = registrationError([sleep, sleep, handler(TaskName.CleanupPurgeTasks, 'PurgeHandler')]);
    expect(error.message.split('\n  - ')).toHaveLength(1 + 4);
    expect(error.message).toContain('diagnostic.sleep has two handlers');
    expect(error.message).toContain('PurgeHandler handles cleanup.purge_tasks');
    expect(error.message).toContain('email.send (type email) has no handler');
    expect(error.message).toContain('diagnostic.fail (type email) has no handler');
  });
});

describe('TaskHandlerRegistry.get', () => {
  it('throws for a name without a registered handler', () => {
    expect(() => emailRegistry().get(TaskName.EmailSend)).toThrow('no handler for email.send');
  });
});
