import { Module } from '@nestjs/common';
import { PurgeTasksHandler } from './purge-tasks.handler';
import { PurgeTasksService } from './purge-tasks.service';

@Module({ providers: [PurgeTasksService, PurgeTasksHandler] })
export class PurgeTasksModule {}
