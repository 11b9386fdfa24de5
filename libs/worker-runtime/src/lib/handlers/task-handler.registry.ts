import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { TaskName, TaskType, taskNamesForType } from '@tasklane/contracts';
import { TaskHandler, TaskHandlerMarker } from './task-handler';
import { WORKER_TASK_TYPE } from '../worker.constants';

/** The handler set of a worker is wrong: it must handle exactly the catalogue's names of its type. */
export class HandlerRegistrationError extends Error {
  constructor(problems: string[]) {
    super(`task handlers do not match the catalogue:\n  - ${problems.join('\n  - ')}`);
    this.name = 'HandlerRegistrationError';
  }
}

/** A discovered handler method, named `Class.method` for error messages. */
export interface FoundHandler {
  name: TaskName;
  handler: TaskHandler<TaskName>;
  owner: string;
}

/**
 * Finds every `@HandlesTask` method at start-up and refuses to start unless each task name of
 * this worker's type has exactly one handler and no handler serves a name of another type.
 */
@Injectable()
export class TaskHandlerRegistry implements OnModuleInit {
  private readonly logger = new Logger(TaskHandlerRegistry.name);
  private readonly handlers = new Map<TaskName, TaskHandler<TaskName>>();

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(WORKER_TASK_TYPE) private readonly taskType: TaskType,
  ) {}

  onModuleInit(): void {
    const found: FoundHandler[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!wrapper.metatype || typeof instance !== 'object' || instance === null) {
        continue;
      }
      const methods = instance as Record<string, TaskHandler<TaskName>['run']>;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance) as object)) {
        const name = this.discovery.getMetadataByDecorator(TaskHandlerMarker, wrapper, method);
        if (name !== undefined) {
          found.push({
            name,
            // Called on the provider each time, as `provider.method(…)`: late-bound, like any call.
            handler: { run: (params, context) => methods[method](params, context) },
            owner: `${instance.constructor.name}.${method}`,
          });
        }
      }
    }
    this.register(found);
  }

  /** Validates and stores handlers; exposed for tests of the fail-fast rules. */
  register(found: readonly FoundHandler[]): void {
    const expected = new Set(taskNamesForType(this.taskType));
    const problems: string[] = [];
    const owners = new Map<TaskName, string>();
    for (const { name, handler, owner } of found) {
      const first = owners.get(name);
      if (first !== undefined) {
        problems.push(`${name} has two handlers: ${first} and ${owner}`);
        continue;
      }
      if (!expected.has(name)) {
        problems.push(`${owner} handles ${name}, which is not a task of type ${this.taskType}`);
        continue;
      }
      owners.set(name, owner);
      this.handlers.set(name, handler);
    }
    for (const name of expected) {
      if (!owners.has(name)) {
        problems.push(`${name} (type ${this.taskType}) has no handler`);
      }
    }
    if (problems.length > 0) {
      throw new HandlerRegistrationError(problems);
    }
    this.logger.log({
      message: 'task handlers registered',
      task_type: this.taskType,
      handlers: Object.fromEntries(owners),
    });
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
