import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import { Test, TestingModule } from '@nestjs/testing';
import {
  EmailDelivery,
  FailParams,
  FailResult,
  SendEmailParams,
  SendEmailResult,
  SleepParams,
  SleepResult,
  TaskName,
  TaskType,
} from '@tasklane/contracts';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { HandlesTask, TaskContext, TaskHandler } from './task-handler';
import { FoundHandler, HandlerRegistrationError, TaskHandlerRegistry } from './task-handler.registry';

type Found = FoundHandler;

function handler(name: TaskName, owner: string): Found {
  return { name, owner, handler: { run: jest.fn() } as TaskHandler<TaskName> };
}

const sendEmail = handler(TaskName.EmailSend, 'MailService.send');
const sleep = handler(TaskName.DiagnosticSleep, 'DiagnosticTasksService.sleep');
const fail = handler(TaskName.DiagnosticFail, 'DiagnosticTasksService.fail');

function emailRegistry(): TaskHandlerRegistry {
  return new TaskHandlerRegistry({} as DiscoveryService, {} as MetadataScanner, TaskType.Email);
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
    expect(registry.get(TaskName.EmailSend)).toBe(sendEmail.handler);
    expect(registry.get(TaskName.DiagnosticSleep)).toBe(sleep.handler);
    expect(registry.get(TaskName.DiagnosticFail)).toBe(fail.handler);
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
    expect(error.message).toContain('email.send has two handlers: MailService.send and OtherSendHandler');
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

describe('TaskHandlerRegistry discovery of @HandlesTask methods', () => {
  @Injectable()
  class FakeMailService {
    readonly sent: string[] = [];

    @HandlesTask(TaskName.EmailSend)
    send(params: SendEmailParams, { taskId }: Pick<TaskContext, 'taskId'>): Promise<SendEmailResult> {
      this.sent.push(`${taskId} ${params.to}`);
      return Promise.resolve({
        message_id: `<${taskId}@test>`,
        delivery: EmailDelivery.Outbox,
        accepted: [params.to],
        rejected: [],
        outbox_path: null,
      });
    }

    /** Not decorated: never registered. */
    format(to: string): string {
      return to;
    }
  }

  @Injectable()
  class FakeDiagnostics {
    @HandlesTask(TaskName.DiagnosticSleep)
    sleep(params: SleepParams): Promise<SleepResult> {
      return Promise.resolve({ slept_ms: params.ms });
    }

    @HandlesTask(TaskName.DiagnosticFail)
    fail(params: FailParams): Promise<FailResult> {
      return Promise.reject(new Error(params.message));
    }
  }

  @Injectable()
  class WrongTypes {
    // @ts-expect-error — the compiler checks a handler against the catalogue: email.send takes SendEmailParams.
    @HandlesTask(TaskName.EmailSend)
    send(params: SleepParams): Promise<SleepResult> {
      return Promise.resolve({ slept_ms: params.ms });
    }
  }

  async function registryWith(providers: Array<new (...args: never[]) => unknown>): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [{ provide: WORKER_TASK_TYPE, useValue: TaskType.Email }, TaskHandlerRegistry, ...providers],
    }).compile();
    moduleRef.useLogger(false);
    return moduleRef;
  }

  it('registers each decorated method, bound to its provider', async () => {
    const moduleRef = await registryWith([FakeMailService, FakeDiagnostics]);
    await moduleRef.init();
    const registry = moduleRef.get(TaskHandlerRegistry);
    const context = { taskId: 't-1' } as TaskContext;

    await expect(
      registry.get(TaskName.EmailSend).run({ to: 'ada@example.com', subject: 's', body: 'b' }, context),
    ).resolves.toMatchObject({ message_id: '<t-1@test>' });
    expect(moduleRef.get(FakeMailService).sent).toEqual(['t-1 ada@example.com']);
    await expect(registry.get(TaskName.DiagnosticSleep).run({ ms: 5 }, context)).resolves.toEqual({ slept_ms: 5 });
    await expect(registry.get(TaskName.DiagnosticFail).run({ message: 'no' }, context)).rejects.toThrow('no');
    await moduleRef.close();
  });

  it('refuses to initialise with a duplicate, naming both methods', async () => {
    const moduleRef = await registryWith([FakeMailService, FakeDiagnostics, WrongTypes]);
    await expect(moduleRef.init()).rejects.toThrow(
      'email.send has two handlers: FakeMailService.send and WrongTypes.send',
    );
  });

  it('refuses to initialise when a task name of the type has no handler method', async () => {
    const moduleRef = await registryWith([FakeDiagnostics]);
    await expect(moduleRef.init()).rejects.toThrow('email.send (type email) has no handler');
  });
});
