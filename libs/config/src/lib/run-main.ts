import { ConfigValidationError } from './load-config';

/**
 * Runs an app's bootstrap and turns a failed start into one clear message and exit code 1,
 * instead of a stack trace: an invalid environment lists each bad variable.
 */
export function runMain(appName: string, bootstrap: () => Promise<void>): void {
  bootstrap().catch((error: unknown) => {
    const message =
      error instanceof ConfigValidationError
        ? error.message
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    process.stderr.write(`${appName} failed to start. ${message}\n`);
    process.exit(1);
  });
}
