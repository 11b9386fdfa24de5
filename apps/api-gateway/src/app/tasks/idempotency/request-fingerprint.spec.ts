import { ValidEnqueueTask, validateEnqueueTask } from '@tasklane/contracts';
import { requestFingerprint } from './request-fingerprint';

function valid(body: Record<string, unknown>, now = new Date('2026-12-07T12:00:00Z')): ValidEnqueueTask {
  const result = validateEnqueueTask(body, now);
  if (!result.ok) {
    throw new Error(JSON.stringify(result.errors));
  }
  return result.value;
}

const email = { task_name: 'email.send', params: { to: 'a@example.com', subject: 'Hi', body: 'Hello' } };

describe('requestFingerprint', () => {
  it('is a SHA-256 in hex', () => {
    expect(requestFingerprint(valid(email))).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same request: key order, defaults written out, the key itself and delay_ms sent later', () => {
    const first = requestFingerprint(valid({ ...email, delay_ms: 1_000, idempotency_key: 'a' }));
    expect(
      requestFingerprint(
        valid(
          {
            params: { body: 'Hello', subject: 'Hi', to: 'a@example.com' },
            task_name: 'email.send',
            task_type: 'email',
            priority: 5,
            max_retries: 3,
            delay_ms: 1_000,
            idempotency_key: 'b',
          },
          new Date('2026-12-07T12:00:09Z'),
        ),
      ),
    ).toBe(first);
  });

  it.each([
    [{ priority: 6 }],
    [{ max_retries: 0 }],
    [{ timeout_ms: 1_000 }],
    [{ params: { ...email.params, to: 'b@example.com' } }],
    [{ delay_ms: 2_000 }],
    [{ run_at: '2026-12-24T18:00:00Z' }],
  ])('differs when the request asks for something else: %j', (change) => {
    expect(requestFingerprint(valid({ ...email, ...change }))).not.toBe(requestFingerprint(valid(email)));
  });
});
