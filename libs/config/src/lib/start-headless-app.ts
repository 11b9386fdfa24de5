import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createAppLogger } from './app-logger';
import { BaseEnv } from './base.env';
import { exitOnSignals } from './exit-on-signals';
import { loadConfig } from './load-config';

/**
 * Starts an app without an HTTP API (workers, status tracker): validates the environment, sets
 * up logging, runs every module's start-up hooks, and drains cleanly on SIGTERM/SIGINT.
 */
export async function startHeadlessApp(
  appName: string,
  module: Type<unknown>,
  schema: new () => BaseEnv,
): Promise<void> {
  const env = loadConfig(schema);
  const logger = createAppLogger(appName, env.LOG_LEVEL, env.LOG_FORMAT);
  const app = await NestFactory.createApplicationContext(module, { logger, abortOnError: false });
  exitOnSignals(app, logger);
  await app.init();
  logger.log(`${appName} started`, 'Bootstrap');
}
