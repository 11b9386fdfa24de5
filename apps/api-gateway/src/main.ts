import 'reflect-metadata';
import { createAppLogger, exitOnSignals, loadConfig, runMain } from '@tasklane/config';
import { createGateway } from './app/create-gateway';
import { GatewayEnv } from './app/gateway.env';

runMain('api-gateway', async () => {
  const env = loadConfig(GatewayEnv);
  const logger = createAppLogger('api-gateway', env.LOG_LEVEL, env.LOG_FORMAT);
  const app = await createGateway(env, logger);
  exitOnSignals(app, logger);
  await app.listen(env.PORT, '0.0.0.0');
  logger.log(`api-gateway listening on port ${env.PORT}`, 'Bootstrap');
});
