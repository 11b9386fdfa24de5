import { Inject, Injectable, Logger } from '@nestjs/common';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createTransport, Transporter } from 'nodemailer';
import { EmailDelivery, SendEmailParams, SendEmailResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, PermanentTaskError, TaskContext } from '@tasklane/worker-runtime';
import { EmailWorkerEnv } from '../email-worker.env';

interface SmtpError {
  responseCode?: number;
  code?: string;
  message: string;
}

/**
 * Sends mail over SMTP, or — with no SMTP_URL — writes it as an `.eml` file to the outbox
 * folder. The Message-ID derives from the task id, so a message re-sent after a lost outcome
 * can be recognised as the same message by the receiver.
 */
@Injectable()
export class MailService {
  private readonly logger = new Logger(MailService.name);
  private readonly smtp: Transporter | null;
  private readonly outboxDir: string;

  constructor(@Inject(EmailWorkerEnv) private readonly env: EmailWorkerEnv) {
    this.smtp = env.SMTP_URL ? createTransport(env.SMTP_URL) : null;
    this.outboxDir = resolve(env.MAIL_OUTBOX_DIR);
    if (!this.smtp) {
      this.logger.warn({
        message: 'SMTP_URL is not set: mail is written to the outbox folder',
        outbox: this.outboxDir,
      });
    }
  }

  @HandlesTask(TaskName.EmailSend)
  async send(params: SendEmailParams, { taskId }: Pick<TaskContext, 'taskId'>): Promise<SendEmailResult> {
    const message = {
      from: params.from ?? this.env.MAIL_FROM,
      to: params.to,
      subject: params.subject,
      text: params.body,
      messageId: `<${taskId}@tasklane>`,
    };
    return this.smtp ? this.sendSmtp(this.smtp, message) : this.writeToOutbox(message, taskId);
  }

  private async sendSmtp(smtp: Transporter, message: Parameters<Transporter['sendMail']>[0]): Promise<SendEmailResult> {
    try {
      const info = await smtp.sendMail(message);
      return {
        message_id: info.messageId,
        delivery: EmailDelivery.Smtp,
        accepted: info.accepted.map(String),
        rejected: info.rejected.map(String),
        outbox_path: null,
      };
    } catch (error) {
      const smtpError = error as SmtpError;
      // 5xx replies are permanent (bad recipient, policy): retrying will not help.
      if (smtpError.responseCode !== undefined && smtpError.responseCode >= 500) {
        throw new PermanentTaskError(`SMTP server refused the message: ${smtpError.message}`);
      }
      throw error;
    }
  }

  private async writeToOutbox(
    message: { messageId: string; from: string; to: string; subject: string; text: string },
    taskId: string,
  ): Promise<SendEmailResult> {
    const stream = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    const info = await stream.sendMail(message);
    await mkdir(this.outboxDir, { recursive: true });
    const path = join(this.outboxDir, `${taskId}.eml`);
    const partial = `${path}.partial`;
    await writeFile(partial, info.message as Buffer);
    await rename(partial, path);
    return {
      message_id: info.messageId,
      delivery: EmailDelivery.Outbox,
      accepted: [message.to],
      rejected: [],
      outbox_path: path,
    };
  }
}
