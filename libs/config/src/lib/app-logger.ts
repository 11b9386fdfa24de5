import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { LOG_LEVELS, LogFormat, LogLevelName } from './base.env';

type JsonLogOptions = Parameters<ConsoleLogger['getJsonLogObject']>[1];
type JsonLogObject = ReturnType<ConsoleLogger['getJsonLogObject']>;

/**
 * Nest's console logger, writing one flat JSON object per line: `{level, timestamp, app, pid,
 * context, message, ...fields}`. Log a structured line with `logger.log({ message: '…', task_id })`.
 */
export class AppLogger extends ConsoleLogger {
  protected override getJsonLogObject(message: unknown, options: JsonLogOptions): JsonLogObject {
    const fields =
      typeof message === 'object' && message !== null && !Array.isArray(message)
        ? (message as Record<string, unknown>)
        : { message };
    const line: JsonLogObject & Record<string, unknown> = {
      level: options.logLevel,
      timestamp: Date.now(),
      app: this.options.prefix,
      pid: process.pid,
      ...(options.context ? { context: options.context } : {}),
      message: fields['message'],
      ...fields,
      ...(options.errorStack ? { stack: options.errorStack } : {}),
    };
    return line;
  }

  /** Pretty mode: `message key=value …` on one line instead of a multi-line object dump. */
  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return super.stringifyMessage(message, logLevel);
    }
    const { message: text, ...fields } = message as Record<string, unknown>;
    const pairs = Object.entries(fields).map(
      ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
    return super.stringifyMessage([String(text ?? ''), ...pairs].join(' '), logLevel);
  }
}

/**
 * The logger every app uses: flat JSON lines (or coloured text with `LOG_FORMAT=pretty`),
 * at `LOG_LEVEL` and above.
 */
export function createAppLogger(appName: string, level: LogLevelName, format: LogFormat): AppLogger {
  const threshold = LOG_LEVELS.indexOf(level);
  const logLevels = LOG_LEVELS.filter((_, index) => index <= threshold) as LogLevel[];
  return new AppLogger({
    prefix: appName,
    logLevels,
    json: format === 'json',
    colors: format === 'pretty',
    timestamp: format === 'pretty',
  });
}
