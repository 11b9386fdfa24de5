import { Module } from '@nestjs/common';
import { PurgeTasksService } from './purge-tasks.service';

@Module({ providers: [PurgeTasksService] })
export class PurgeTasksModule {}
