import { Inject } from '@nestjs/common';
import { ProvidesReadiness, ReadinessCheck } from '@tasklane/observability';
import { TaskEventsConsumer } from './task-events.consumer';

/** Ready while the tracker consumes the lifecycle events. */
@ProvidesReadiness()
export class TaskEventsReadiness implements ReadinessCheck {
  readonly name = 'consumer';

  constructor(@Inject(TaskEventsConsumer) private readonly consumer: TaskEventsConsumer) {}

  isReady(): boolean {
    return this.consumer.isConsuming();
  }
}
