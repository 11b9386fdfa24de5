import { TcpProxy } from '@tasklane/testing';

/** Bytes of each command kept to tell its statement (enough for a long column list and its WHERE). */
const KEPT_BYTES = 4_096;
/** MySQL client command bytes (the first byte of a command packet). */
const COM_QUERY = 0x03;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_EXECUTE = 0x17;
const COMMAND_NAMES: Record<number, string> = {
  0x01: 'COM_QUIT',
  0x02: 'COM_INIT_DB',
  0x0e: 'COM_PING',
  0x11: 'COM_CHANGE_USER',
  0x19: 'COM_STMT_CLOSE',
  0x1f: 'COM_RESET_CONNECTION',
  [COM_STMT_EXECUTE]: 'COM_STMT_EXECUTE',
};

/**
 * Splits a MySQL client → server byte stream into packets (3-byte little-endian length, 1-byte
 * sequence id, payload) and hands the beginning (up to {@link KEPT_BYTES}) of every command to
 * `onCommand`: a command is a packet with sequence id 0 — the handshake response and the
 * authentication packets that follow it carry ids 1, 3, …, and so do the continuation packets
 * of a payload over 16 MiB, so none of them counts. Pure (unit-tested); no TLS, no compression.
 */
export class MysqlCommandSplitter {
  private buffered: Buffer = Buffer.alloc(0);
  /** Payload bytes of the current packet still to pass over. */
  private skip = 0;

  constructor(private readonly onCommand: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.skip > 0) {
      const skipped = Math.min(this.skip, data.length);
      this.skip -= skipped;
      data = data.subarray(skipped);
    }
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUIntLE(0, 3);
      const sequence = this.buffered[3];
      const kept = Math.min(length, KEPT_BYTES);
      if (this.buffered.length < 4 + kept) {
        break;
      }
      if (sequence === 0 && length > 0) {
        this.onCommand(Buffer.from(this.buffered.subarray(4, 4 + kept)));
      }
      const available = this.buffered.length - 4;
      if (available >= length) {
        this.buffered = this.buffered.subarray(4 + length);
      } else {
        this.skip = length - available;
        this.buffered = Buffer.alloc(0);
      }
    }
    if (this.buffered.length > 0) {
      // Detached from the chunk, so that a kept tail does not hold a large chunk in memory.
      this.buffered = Buffer.from(this.buffered);
    }
  }
}

/**
 * The shape of a statement, to count statements by kind: whitespace collapsed, string and number
 * literals as `?`, a SELECT's column list as `…`, an `IN (?, ?, …)` list as `IN (…)`; the first
 * 160 characters. A prepared statement's execution has no text: `COM_STMT_EXECUTE`.
 */
export function statementShape(payload: Buffer): string {
  const command = payload[0];
  if (command !== COM_QUERY && command !== COM_STMT_PREPARE) {
    return COMMAND_NAMES[command] ?? `command 0x${command.toString(16).padStart(2, '0')}`;
  }
  const text = payload
    .subarray(1)
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/'(?:[^'\\]|\\.|'')*'/g, '?')
    .replace(/'[^']*$/, '?') // a literal cut off by the kept bytes
    .replace(/\b\d+(?:\.\d+)?\b/g, '?')
    .replace(/^SELECT .*? FROM /i, 'SELECT … FROM ')
    .replace(/\bIN \(\s*\?(?:\s*,\s*\?)*\s*(?:,\s*)?\)?/gi, 'IN (…)');
  return (command === COM_STMT_PREPARE ? `PREPARE ${text}` : text).slice(0, 160);
}

/** Statements counted by shape. */
export type StatementCounts = Record<string, number>;

/** `after − before`, shape by shape (shapes that did not occur in between left out). */
export function countsBetween(before: StatementCounts, after: StatementCounts): StatementCounts {
  const between: StatementCounts = {};
  for (const [shape, count] of Object.entries(after)) {
    const delta = count - (before[shape] ?? 0);
    if (delta > 0) {
      between[shape] = delta;
    }
  }
  return between;
}

export function totalOf(counts: StatementCounts): number {
  return Object.values(counts).reduce((total, count) => total + count, 0);
}

/**
 * A TCP proxy in front of MariaDB that counts the statements its clients send, by
 * {@link statementShape} — one app's statements, exactly, whoever else uses the shared server
 * (the server-wide `Com_select` counts every client of the machine's MariaDB). A
 * {@link TcpProxy} whose tap splits each connection's bytes into commands; they pass through
 * unchanged. An app's DATABASE_URL points at {@link port}.
 */
export class StatementCountingProxy {
  private constructor(
    private readonly proxy: TcpProxy,
    private readonly counts: StatementCounts,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<StatementCountingProxy> {
    const counts: StatementCounts = {};
    const proxy = await TcpProxy.start(targetHost, targetPort, {
      tap: () => {
        const splitter = new MysqlCommandSplitter((payload) => {
          const shape = statementShape(payload);
          counts[shape] = (counts[shape] ?? 0) + 1;
        });
        return (chunk) => splitter.push(chunk);
      },
    });
    return new StatementCountingProxy(proxy, counts);
  }

  get port(): number {
    return this.proxy.port;
  }

  /** `url` (a DATABASE_URL) pointing at this proxy instead. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** The statements counted so far, by shape (a copy). */
  snapshot(): StatementCounts {
    return { ...this.counts };
  }

  stop(): Promise<void> {
    return this.proxy.stop();
  }
}
