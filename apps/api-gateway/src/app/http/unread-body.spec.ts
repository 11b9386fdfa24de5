import { once } from 'node:events';
import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { LINGER_LIMITS, announcesBody, lingerBeforeClosing, lingerBudget } from './unread-body';

describe('announcesBody', () => {
  it('is true for a Content-Length above 0 or a chunked body, false otherwise', () => {
    expect(announcesBody({ 'content-length': '12' })).toBe(true);
    expect(announcesBody({ 'transfer-encoding': 'chunked' })).toBe(true);
    expect(announcesBody({ 'content-length': '0' })).toBe(false);
    expect(announcesBody({})).toBe(false);
  });
});

describe('lingerBudget', () => {
  it('is the announced Content-Length, bounded by the cap', () => {
    expect(lingerBudget({ 'content-length': '4194304' })).toBe(4_194_304);
    expect(lingerBudget({ 'content-length': '999999999' })).toBe(LINGER_LIMITS.bytes);
    expect(lingerBudget({ 'content-length': '100' }, 10)).toBe(10);
  });

  it('is the cap when the length is not announced or is not a number', () => {
    expect(lingerBudget({ 'transfer-encoding': 'chunked' })).toBe(LINGER_LIMITS.bytes);
    expect(lingerBudget({ 'content-length': 'lots' })).toBe(LINGER_LIMITS.bytes);
  });
});

/** A real TCP connection: the server side is handed to `lingerBeforeClosing` after its answer. */
async function lingeringPair(limits: { ms: number; bytes: number }): Promise<{
  client: Socket;
  server: Server;
  serverSide: Promise<{ closedAfterMs: number }>;
}> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const serverSide = new Promise<{ closedAfterMs: number }>((resolve) => {
    server.once('connection', (socket: Socket) => {
      socket.end('answer');
      const started = Date.now();
      lingerBeforeClosing(socket, limits);
      socket.once('close', () => resolve({ closedAfterMs: Date.now() - started }));
    });
  });
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  return { client, server, serverSide };
}

describe('lingerBeforeClosing', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.close();
    }
  });

  it('keeps reading (and dropping) until the client hangs up, so its answer is not reset away', async () => {
    const { client, server, serverSide } = await lingeringPair({ ms: 3_000, bytes: 1_048_576 });
    servers.push(server);
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.write(Buffer.alloc(512 * 1024));
    await once(client, 'end');
    expect(Buffer.concat(received).toString()).toBe('answer');
    client.end();
    const { closedAfterMs } = await serverSide;
    expect(closedAfterMs).toBeLessThan(1_000);
  });

  it('closes once the announced bytes are dropped, without waiting for the time bound', async () => {
    const { client, server, serverSide } = await lingeringPair({ ms: 3_000, bytes: 65_536 });
    servers.push(server);
    client.write(Buffer.alloc(65_536));
    const { closedAfterMs } = await serverSide;
    expect(closedAfterMs).toBeLessThan(1_000);
    client.destroy();
  });

  it('closes after the time bound a client that neither sends nor hangs up', async () => {
    const { client, server, serverSide } = await lingeringPair({ ms: 200, bytes: 65_536 });
    servers.push(server);
    const { closedAfterMs } = await serverSide;
    expect(closedAfterMs).toBeGreaterThanOrEqual(190);
    expect(closedAfterMs).toBeLessThan(2_000);
    client.destroy();
  });
});
