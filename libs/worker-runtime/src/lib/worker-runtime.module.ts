import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TaskType } from '@tasklane/contracts';
import { AmqpModule } from '@tasklane/messaging';
import { DatabaseModule } from '@tasklane/persistence';
import { ObservabilityModule } from '@tasklane/observability';
import { PoisonMessageRejecter } from './consumer/poison-message.rejecter';
import { TaskConsumer } from './consumer/task.consumer';
import { TaskConsumerReadiness } from './consumer/task-consumer.readiness';
import { TaskControlSubscriber } from './consumer/task-control.subscriber';
import { LeaseKeeper } from './lifecycle/lease-keeper';
import { OutcomePublishStage } from './lifecycle/outcome-publish.stage';
import { OutcomeRecordStage } from './lifecycle/outcome-record.stage';
import { RunningTasks } from './lifecycle/running-tasks';
import { TaskClaimStage } from './lifecycle/task-claim.stage';
import { TaskLifecycle } from './lifecycle/task-lifecycle.service';
import { TaskRunStage } from './lifecycle/task-run.stage';
import { ProgressReporter } from './lifecycle/progress-reporter';
import { DiagnosticTasksService } from './diagnostics/diagnostic-tasks.service';
import { TaskHandlerRegistry } from './handlers/task-handler.registry';
import { WORKER_TASK_TYPE } from './worker.constants';

/**
 * Everything a worker app needs besides its own handlers: the RabbitMQ connection, the database
 * (for claims), the handler registry, the diagnostic tasks, the consumer of its queue (the
 * transport: slots, ack/nack, poison, control broadcasts), the lifecycle of a claimed task (its
 * stages: claim, run, record, publish), and health and metrics on HEALTH_PORT.
 */
@Module({})
export class WorkerRuntimeModule {
  static forRoot(options: { taskType: TaskType }): DynamicModule {
    return {
      module: WorkerRuntimeModule,
      imports: [
        DiscoveryModule,
        AmqpModule,
        DatabaseModule.forRoot(),
        ObservabilityModule.forRoot({ appName: `worker-${options.taskType}`, opsServer: true }),
      ],
      providers: [
        { provide: WORKER_TASK_TYPE, useValue: options.taskType },
        TaskHandlerRegistry,
        // The control subscription is discovered, so started, before the task consumer.
        TaskControlSubscriber,
        TaskConsumer,
        TaskConsumerReadiness,
        PoisonMessageRejecter,
        LeaseKeeper,
        RunningTasks,
        TaskClaimStage,
        TaskRunStage,
        ProgressReporter,
        OutcomeRecordStage,
        OutcomePublishStage,
        TaskLifecycle,
        DiagnosticTasksService,
      ],
      exports: [TaskConsumer],
    };
  }
}
