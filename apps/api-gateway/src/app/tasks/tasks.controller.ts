import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import {
  CountTasksQuery,
  ListTasksQuery,
  TaskCount,
  TaskListLimit,
  TaskPage,
  TaskResource,
  ValidEnqueueTask,
} from '@tasklane/contracts';
import { EnqueueTaskPipe } from './enqueue-task.pipe';
import { TaskIdPipe } from './task-id.pipe';
import { TasksService } from './tasks.service';

@Controller('api/tasks')
export class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Post('enqueue')
  @HttpCode(201)
  enqueue(@Body(EnqueueTaskPipe) task: ValidEnqueueTask): Promise<TaskResource> {
    return this.tasks.enqueue(task);
  }

  @Get('count/all')
  count(@Query() query: CountTasksQuery): Promise<TaskCount> {
    return this.tasks.count({ status: query.status, taskType: query.task_type });
  }

  @Get()
  list(@Query() query: ListTasksQuery): Promise<TaskPage> {
    return this.tasks.list(
      { status: query.status, taskType: query.task_type },
      query.limit ?? TaskListLimit.Default,
      query.offset ?? 0,
    );
  }

  @Get(':task_id')
  get(@Param('task_id', TaskIdPipe) taskId: string): Promise<TaskResource> {
    return this.tasks.get(taskId);
  }

  @Post(':task_id/cancel')
  @HttpCode(200)
  cancel(@Param('task_id', TaskIdPipe) taskId: string): Promise<TaskResource> {
    return this.tasks.cancel(taskId);
  }
}
