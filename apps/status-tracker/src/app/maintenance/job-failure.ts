import { Logger } from '@nestjs/common';

/** How the tracker's periodic jobs report a failed run: a warning; the next tick tries again. */
export function warnAndRetry(logger: Logger, job: string): (error: unknown) => void {
  return (error) => logger.warn({ message: `${job} failed; trying again`, error: (error as Error).message });
}
