import { loadConfig } from '@tasklane/config';
import { GatewayEnv } from '../gateway.env';
import { OPEN_API_WARNING, createApiKeyRing } from './auth.module';

describe('createApiKeyRing', () => {
  it('warns loudly that the API is open when no key is configured', () => {
    const logger = { log: jest.fn(), warn: jest.fn() };
    const ring = createApiKeyRing(loadConfig(GatewayEnv, {}), logger);
    expect(ring.enabled).toBe(false);
    expect(logger.warn).toHaveBeenCalledWith(OPEN_API_WARNING);
    expect(OPEN_API_WARNING).toMatch(/OPEN/);
    expect(logger.log).not.toHaveBeenCalled();
  });

  it('logs how many keys are configured, never the keys', () => {
    const logger = { log: jest.fn(), warn: jest.fn() };
    const keys = ['rw-a-0123456789abcdef', 'rw-b-0123456789abcdef', 'ro-a-0123456789abcdef'];
    const env = loadConfig(GatewayEnv, { API_KEYS_READ_WRITE: `${keys[0]},${keys[1]}`, API_KEYS_READ_ONLY: keys[2] });
    const ring = createApiKeyRing(env, logger);
    expect(ring.enabled).toBe(true);
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.log).toHaveBeenCalledTimes(1);
    const line = String(logger.log.mock.calls[0][0]);
    expect(line).toMatch(/2 read-write, 1 read-only/);
    for (const key of keys) {
      expect(line).not.toContain(key);
    }
  });
});
