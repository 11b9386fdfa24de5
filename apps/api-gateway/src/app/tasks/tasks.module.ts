import { Module } from '@nestjs/common';
import { DispatchRecorder } from './dispatch-recorder';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({ controllers: [TasksController], providers: [TasksService, DispatchRecorder] })
export class TasksModule {}
