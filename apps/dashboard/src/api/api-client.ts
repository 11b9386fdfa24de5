/** Why a call failed, as the page shows it: the status and the API's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where the key is kept: this tab only, gone when it closes. */
const KEY_STORAGE = 'tasklane.apiKey';

/**
 * The REST API as the dashboard calls it: the key on every request, and conditional GETs — the
 * last body and ETag of each URL are kept, so a poll that changed nothing costs a 304 and no
 * parsing (ADR 0011).
 */
export class ApiClient {
  private readonly cache = new Map<string, { etag: string; body: unknown }>();

  constructor(
    private key: string | null = sessionStorage.getItem(KEY_STORAGE),
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  setKey(key: string | null): void {
    this.key = key;
    this.cache.clear();
    if (key === null) {
      sessionStorage.removeItem(KEY_STORAGE);
    } else {
      sessionStorage.setItem(KEY_STORAGE, key);
    }
  }

  get hasKey(): boolean {
    return this.key !== null;
  }

  async get<T>(path: string): Promise<T> {
    const cached = this.cache.get(path);
    const response = await this.fetcher(path, {
      headers: { ...this.auth(), ...(cached ? { 'if-none-match': cached.etag } : {}) },
    });
    if (response.status === 304 && cached) {
      return cached.body as T;
    }
    const body = await this.read(response);
    const etag = response.headers.get('etag');
    if (etag !== null) {
      this.cache.set(path, { etag, body });
    }
    return body as T;
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    const response = await this.fetcher(path, {
      method: 'POST',
      headers: { ...this.auth(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await this.read(response)) as T;
  }

  private auth(): Record<string, string> {
    return this.key === null ? {} : { authorization: `Bearer ${this.key}` };
  }

  private async read(response: Response): Promise<unknown> {
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = text;
    }
    if (!response.ok) {
      const message = (body as { message?: unknown } | null)?.message;
      throw new ApiError(response.status, typeof message === 'string' ? message : `HTTP ${response.status}`);
    }
    return body;
  }
}

/** A query string of the set values only (`?a=1&b=x`, or '' when none is set). */
export function queryString(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== '') {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
