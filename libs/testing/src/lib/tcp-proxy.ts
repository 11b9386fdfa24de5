import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';

export interface TcpProxyOptions {
  /**
   * Called for every connection accepted; the function it returns sees every chunk the client
   * sends (e.g. to count a protocol's commands). The bytes pass through unchanged.
   */
  tap?: () => (chunk: Buffer) => void;
}

/**
 * A TCP proxy in front of a real service, so a test can take the service away from one app
 * (connection refused, open connections reset) and give it back — without stopping the
 * machine's shared RabbitMQ or MariaDB — or watch what the app sends ({@link TcpProxyOptions.tap}).
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private listenPort = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly options: TcpProxyOptions,
  ) {}

  static async start(targetHost: string, targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort, options);
    await proxy.listen(0);
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  /** The service goes away: open connections are reset, new ones refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.sockets.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** The service comes back on the same port. */
  async restore(): Promise<void> {
    if (!this.server) {
      await this.listen(this.listenPort);
    }
  }

  async stop(): Promise<void> {
    await this.cut();
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      const tap = this.options.tap?.();
      if (tap) {
        client.on('data', tap);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as AddressInfo).port;
    this.server = server;
  }
}
