import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { TaskType } from '@tasklane/contracts';
import { WorkerRuntimeModule } from '@tasklane/worker-runtime';
import { EmailWorkerEnv } from './email-worker.env';
import { SendEmailModule } from './send-email/send-email.module';

@Module({
  imports: [
    ConfigModule.forRoot(EmailWorkerEnv),
    WorkerRuntimeModule.forRoot({ taskType: TaskType.Email }),
    SendEmailModule,
  ],
})
export class AppModule {}
