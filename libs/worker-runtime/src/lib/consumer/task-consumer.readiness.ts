import { Inject } from '@nestjs/common';
import { ProvidesReadiness, ReadinessCheck } from '@tasklane/observability';
import { TaskConsumer } from './task.consumer';

/** Ready while the worker consumes its queue. */
@ProvidesReadiness()
export class TaskConsumerReadiness implements ReadinessCheck {
  readonly name = 'consumer';

  constructor(@Inject(TaskConsumer) private readonly consumer: TaskConsumer) {}

  isReady(): boolean {
    return this.consumer.isConsuming();
  }
}
