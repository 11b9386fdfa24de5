import { ApiClient, ApiError, queryString } from './api-client';

class MemoryStorage {
  private readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

function response(status: number, body: string, headers: Record<string, string> = {}): Response {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name: string) => headers[name.toLowerCase()] ?? null },
    text: async () => body,
  } as unknown as Response;
}

describe('ApiClient', () => {
  beforeAll(() => {
    (globalThis as { sessionStorage?: unknown }).sessionStorage = new MemoryStorage();
  });

  it('sends the key, then If-None-Match, and answers a 304 with the body it kept', async () => {
    const calls: Array<Record<string, string>> = [];
    const answers = [response(200, '{"items":[1]}', { etag: 'W/"a"' }), response(304, '')];
    const client = new ApiClient('k'.repeat(16), async (_path, init) => {
      calls.push((init?.headers ?? {}) as Record<string, string>);
      return answers.shift() as Response;
    });
    expect(await client.get('/api/tasks')).toEqual({ items: [1] });
    expect(await client.get('/api/tasks')).toEqual({ items: [1] });
    expect(calls[0]).toEqual({ authorization: `Bearer ${'k'.repeat(16)}` });
    expect(calls[1]['if-none-match']).toBe('W/"a"');
  });

  it("throws the API's message with its status", async () => {
    const client = new ApiClient(null, async () => response(403, '{"statusCode":403,"message":"read-only key"}'));
    await expect(client.post('/api/tasks/x/cancel')).rejects.toEqual(new ApiError(403, 'read-only key'));
  });
});

describe('queryString', () => {
  it('keeps the set values only', () => {
    expect(queryString({ status: 'failed', q: '', priority: 5, cursor: undefined })).toBe('?status=failed&priority=5');
    expect(queryString({ a: null })).toBe('');
  });
});
