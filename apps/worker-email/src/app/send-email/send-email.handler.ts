import { Inject } from '@nestjs/common';
import { SendEmailParams, SendEmailResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '@tasklane/worker-runtime';
import { MailService } from './mail.service';

@HandlesTask(TaskName.EmailSend)
export class SendEmailHandler implements TaskHandler<TaskName.EmailSend> {
  constructor(@Inject(MailService) private readonly mail: MailService) {}

  run(params: SendEmailParams, context: TaskContext): Promise<SendEmailResult> {
    return this.mail.send(params, context.taskId);
  }
}
