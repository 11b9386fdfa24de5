import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { LOG_LEVELS, LogFormat, LogLevelName } from './base.env';

/**
 * The logger every app uses: one JSON object per line (or coloured text with `LOG_FORMAT=pretty`),
 * at `LOG_LEVEL` and above.
 */
export function createAppLogger(appName: string, level: LogLevelName, format: LogFormat): ConsoleLogger {
  const threshold = LOG_LEVELS.indexOf(level);
  const logLevels = LOG_LEVELS.filter((_, index) => index <= threshold) as LogLevel[];
  return new ConsoleLogger({
    prefix: appName,
    logLevels,
    json: format === 'json',
    colors: format === 'pretty',
    timestamp: format === 'pretty',
  });
}
