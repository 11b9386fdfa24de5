import { Module } from '@nestjs/common';
import { DispatchRecorder } from './dispatch-recorder';
import { PendingTaskWriter } from './pending-task.writer';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({ controllers: [TasksController], providers: [TasksService, DispatchRecorder, PendingTaskWriter] })
export class TasksModule {}
