import { ConsoleLogger, LogLevel, LoggerService } from '@nestjs/common';
import pino, { Level, Logger as Pino } from 'pino';
import { LOG_LEVELS, LogFormat, LogLevelName } from './base.env';

const PINO_LEVELS: Record<LogLevelName, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Nest's logger interface on pino: one JSON object per line, `{level, time, app, pid, context,
 * message, ...fields}`. Log a structured line with `logger.log({ message: '…', task_id, … })`:
 * the fields become top-level keys.
 */
export class PinoLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...optional: unknown[]): void {
    this.write('info', message, optional);
  }

  error(message: unknown, ...optional: unknown[]): void {
    this.write('error', message, optional, true);
  }

  warn(message: unknown, ...optional: unknown[]): void {
    this.write('warn', message, optional);
  }

  debug(message: unknown, ...optional: unknown[]): void {
    this.write('debug', message, optional);
  }

  verbose(message: unknown, ...optional: unknown[]): void {
    this.write('trace', message, optional);
  }

  fatal(message: unknown, ...optional: unknown[]): void {
    this.write('fatal', message, optional, true);
  }

  private write(level: Level, message: unknown, optional: unknown[], mayHaveStack = false): void {
    if (!this.pino.isLevelEnabled(level)) {
      return;
    }
    // Nest calls (message, context) or, for errors, (message, stack, context).
    const params = [...optional];
    const context =
      params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const stack = mayHaveStack && typeof params[0] === 'string' ? params[0] : undefined;
    let fields: Record<string, unknown>;
    if (message instanceof Error) {
      fields = { message: message.message, stack: message.stack };
    } else if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
      fields = { ...(message as Record<string, unknown>) };
    } else {
      fields = { message: String(message) };
    }
    const { message: text, ...rest } = fields;
    this.pino[level]({ ...(context ? { context } : {}), ...rest, ...(stack ? { stack } : {}) }, String(text ?? ''));
  }
}

/** Nest's console logger for humans (`LOG_FORMAT=pretty`): structured fields as `key=value` on one line. */
export class PrettyLogger extends ConsoleLogger {
  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    // An Error keeps Nest's rendering (with its stack); only plain structured messages are flattened.
    if (typeof message !== 'object' || message === null || Array.isArray(message) || message instanceof Error) {
      return super.stringifyMessage(message, logLevel);
    }
    const { message: text, ...fields } = message as Record<string, unknown>;
    const pairs = Object.entries(fields).map(
      ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
    return super.stringifyMessage([String(text ?? ''), ...pairs].join(' '), logLevel);
  }
}

/** The logger every app uses: pino JSON lines (default) or readable text, at `LOG_LEVEL` and above. */
export function createAppLogger(appName: string, level: LogLevelName, format: LogFormat): LoggerService {
  if (format === 'json') {
    return new PinoLogger(
      pino(
        {
          level: PINO_LEVELS[level],
          base: { app: appName, pid: process.pid },
          messageKey: 'message',
          timestamp: pino.stdTimeFunctions.isoTime,
          formatters: { level: (label) => ({ level: label }) },
        },
        // Asynchronous stdout: lines written while a write is in flight go out together, instead of
        // one blocking write per line; pino flushes what is left when the process exits.
        pino.destination({ dest: 1, sync: false }),
      ),
    );
  }
  const threshold = LOG_LEVELS.indexOf(level);
  return new PrettyLogger({
    prefix: appName,
    logLevels: LOG_LEVELS.filter((_, index) => index <= threshold) as LogLevel[],
    colors: true,
    timestamp: true,
  });
}
