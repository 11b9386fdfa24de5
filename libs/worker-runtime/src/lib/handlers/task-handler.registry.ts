import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { TaskName, TaskType, taskNamesForType } from '@tasklane/contracts';
import { TASK_HANDLER_NAME, TaskHandler } from './task-handler';
import { WORKER_TASK_TYPE } from '../worker.constants';

/** The handler set of a worker is wrong: it must handle exactly the catalogue's names of its type. */
export class HandlerRegistrationError extends Error {
  constructor(problems: string[]) {
    super(`task handlers do not match the catalogue:\n  - ${problems.join('\n  - ')}`);
    this.name = 'HandlerRegistrationError';
  }
}

/**
 * Finds every `@HandlesTask` provider at start-up and refuses to start unless each task name of
 * this worker's type has exactly one handler and no handler serves a name of another type.
 */
@Injectable()
export class TaskHandlerRegistry implements OnModuleInit {
  private readonly logger = new Logger(TaskHandlerRegistry.name);
  private readonly handlers = new Map<TaskName, TaskHandler<TaskName>>();

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(WORKER_TASK_TYPE) private readonly taskType: TaskType,
  ) {}

  onModuleInit(): void {
    const found = this.discovery
      .getProviders()
      .filter((wrapper) => wrapper.metatype && wrapper.instance)
      .map((wrapper) => ({
        name: Reflect.getMetadata(TASK_HANDLER_NAME, wrapper.metatype as object) as TaskName | undefined,
        instance: wrapper.instance as TaskHandler<TaskName>,
        className: (wrapper.metatype as { name: string }).name,
      }))
      .filter(
        (entry): entry is { name: TaskName; instance: TaskHandler<TaskName>; className: string } =>
          entry.name !== undefined,
      );
    this.register(found);
  }

  /** Validates and stores handlers; exposed for tests of the fail-fast rules. */
  register(found: ReadonlyArray<{ name: TaskName; instance: TaskHandler<TaskName>; className: string }>): void {
    const expected = new Set(taskNamesForType(this.taskType));
    const problems: string[] = [];
    const owners = new Map<TaskName, string>();
    for (const { name, instance, className } of found) {
      const owner = owners.get(name);
      if (owner !== undefined) {
        problems.push(`${name} has two handlers: ${owner} and ${className}`);
        continue;
      }
      if (!expected.has(name)) {
        problems.push(`${className} handles ${name}, which is not a task of type ${this.taskType}`);
        continue;
      }
      owners.set(name, className);
      this.handlers.set(name, instance);
    }
    for (const name of expected) {
      if (!owners.has(name)) {
        problems.push(`${name} (type ${this.taskType}) has no handler`);
      }
    }
    if (problems.length > 0) {
      throw new HandlerRegistrationError(problems);
    }
    this.logger.log({ message: 'task handlers registered', task_type: this.taskType, task_names: [...owners.keys()] });
  }

  get(name: TaskName): TaskHandler<TaskName> {
    const handler = this.handlers.get(name);
    if (!handler) {
      // Unreachable after registration: every catalogue name of this type has a handler.
      throw new Error(`no handler for ${name}`);
    }
    return handler;
  }
}
