import { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BaseEnv, createAppLogger, exitOnSignals, loadConfig } from '@tasklane/config';
import { BrokerListeners } from './broker-listeners.service';
import { BrokerTransport } from './broker.transport';

/**
 * Initialises a microservice built on a {@link BrokerTransport} and starts listening: the module's
 * start-up hooks run first (broker connection, database, ops server), then every broker listener.
 * `create` builds the app from the strategy (`NestFactory.createMicroservice`, or a testing
 * module's `createNestMicroservice`).
 */
export async function listenOnBroker(
  create: (options: { strategy: BrokerTransport }) => INestMicroservice | Promise<INestMicroservice>,
  beforeInit: (app: INestMicroservice) => void = () => undefined,
): Promise<INestMicroservice> {
  const strategy = new BrokerTransport();
  const app = await create({ strategy });
  strategy.bind(app.get(BrokerListeners, { strict: false }));
  beforeInit(app);
  // listen() initialises the app (start-up hooks) first. Not app.init() as well: on a
  // microservice, init() then listen() runs every onModuleInit/onApplicationBootstrap twice.
  await app.listen();
  return app;
}

/**
 * Starts a worker or the status tracker as a Nest microservice: validates the environment, sets
 * up logging, listens on the broker, and drains cleanly on SIGTERM/SIGINT.
 */
export async function startBrokerMicroservice(
  appName: string,
  module: Type<unknown>,
  schema: new () => BaseEnv,
): Promise<void> {
  const env = loadConfig(schema);
  const logger = createAppLogger(appName, env.LOG_LEVEL, env.LOG_FORMAT);
  await listenOnBroker(
    (options) => NestFactory.createMicroservice(module, { ...options, logger, abortOnError: false }),
    (app) => exitOnSignals(app, logger),
  );
  logger.log(`${appName} started`, 'Bootstrap');
}
