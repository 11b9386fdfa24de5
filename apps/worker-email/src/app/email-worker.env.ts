import { Expose } from 'class-transformer';
import { IsOptional, IsString, Matches, MinLength } from 'class-validator';
import { WorkerEnv } from '@tasklane/worker-runtime';

export class EmailWorkerEnv extends WorkerEnv {
  /** SMTP server, e.g. smtp://user:pass@smtp.example.com:587. Unset: mail goes to MAIL_OUTBOX_DIR. */
  @Expose()
  @IsOptional()
  @Matches(/^smtps?:\/\/[^\s]+$/, { message: 'SMTP_URL must be an smtp:// or smtps:// URL' })
  readonly SMTP_URL?: string;

  /** Sender used when a task gives no `from`. */
  @Expose()
  @IsString()
  @MinLength(3)
  readonly MAIL_FROM: string = 'Tasklane <tasklane@localhost>';

  /** Folder receiving `.eml` files when no SMTP server is configured. */
  @Expose()
  @IsString()
  @MinLength(1)
  readonly MAIL_OUTBOX_DIR: string = 'var/mail-outbox';
}
