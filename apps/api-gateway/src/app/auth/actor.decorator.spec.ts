import { createHash } from 'node:crypto';
import { ApiAccess, ApiKeyRing } from './api-keys';
import { authenticate } from './api-key.hooks';
import { actorOf } from './actor.decorator';

const KEY = 'history-actor-key-0123456789';
const request = (headers: Record<string, string>) =>
  ({ headers, routeOptions: { config: {} } }) as unknown as Parameters<typeof authenticate>[1];

describe('actorOf (who a task history names)', () => {
  it('names a key by the first 12 hex digits of its digest, never by the key', () => {
    const caller = authenticate(new ApiKeyRing([KEY], []), request({ authorization: `Bearer ${KEY}` }));
    expect(caller).toMatchObject({ kind: 'key', access: ApiAccess.ReadWrite });
    const actor = actorOf(caller);
    expect(actor).toBe(`key:${createHash('sha256').update(KEY).digest('hex').slice(0, 12)}`);
    expect(actor).not.toContain(KEY.slice(0, 8));
  });

  it('is anonymous when the API is open (no keys configured) or before authentication ran', () => {
    expect(actorOf(authenticate(new ApiKeyRing([], []), request({})))).toBe('anonymous');
    expect(actorOf(null)).toBe('anonymous');
  });
});
