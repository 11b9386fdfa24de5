import { IsEmail, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export class SendEmailParams {
  @IsEmail()
  @MaxLength(254)
  to!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  subject!: string;

  @IsString()
  @MaxLength(100_000)
  body!: string;

  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  from?: string;
}

export enum EmailDelivery {
  /** Sent to the SMTP server configured by `SMTP_URL`. */
  Smtp = 'smtp',
  /** Written as an `.eml` file to the outbox folder (no SMTP server configured). */
  Outbox = 'outbox',
}

export interface SendEmailResult {
  message_id: string;
  delivery: EmailDelivery;
  accepted: string[];
  rejected: string[];
  /** Path of the `.eml` file when `delivery` is `outbox`. */
  outbox_path: string | null;
}
