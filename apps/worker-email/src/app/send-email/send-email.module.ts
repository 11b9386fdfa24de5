import { Module } from '@nestjs/common';
import { MailService } from './mail.service';
import { SendEmailHandler } from './send-email.handler';

@Module({ providers: [MailService, SendEmailHandler] })
export class SendEmailModule {}
