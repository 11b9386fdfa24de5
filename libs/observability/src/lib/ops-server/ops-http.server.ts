import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Server, createServer } from 'node:http';
import { Registry } from 'prom-client';
import { BaseEnv } from '@tasklane/config';
import { HealthService } from '../health/health.service';

export const HealthPath = {
  Live: '/health/live',
  Ready: '/health/ready',
  Metrics: '/metrics',
} as const;

/**
 * The small HTTP server of apps without an API (workers, status tracker), on HEALTH_PORT:
 * `/health/live`, `/health/ready` and `/metrics` for Kubernetes probes and Prometheus.
 */
@Injectable()
export class OpsHttpServer implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(OpsHttpServer.name);
  private server: Server | null = null;

  constructor(
    @Inject(HealthService) private readonly health: HealthService,
    @Inject(Registry) private readonly registry: Registry,
    @Inject(BaseEnv) private readonly env: BaseEnv,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const server = createServer((request, response) => {
      void this.answer(request.method ?? 'GET', (request.url ?? '/').split('?')[0], response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.env.HEALTH_PORT, () => resolve());
    });
    this.server = server;
    this.logger.log({ message: 'health and metrics served', port: this.port() });
  }

  /** The port actually listened on (HEALTH_PORT, or the one picked for 0). */
  port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : null;
  }

  beforeApplicationShutdown(): void {
    this.health.markShuttingDown();
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async answer(method: string, path: string, response: import('node:http').ServerResponse): Promise<void> {
    const send = (status: number, contentType: string, body: string): void => {
      response.writeHead(status, { 'content-type': contentType });
      response.end(body);
    };
    try {
      if (method !== 'GET') {
        send(405, 'application/json', JSON.stringify({ statusCode: 405, message: 'Method Not Allowed' }));
      } else if (path === HealthPath.Live) {
        send(200, 'application/json', JSON.stringify({ status: 'alive' }));
      } else if (path === HealthPath.Ready) {
        const report = await this.health.readiness();
        send(report.status === 'ready' ? 200 : 503, 'application/json', JSON.stringify(report));
      } else if (path === HealthPath.Metrics) {
        send(200, this.registry.contentType, await this.registry.metrics());
      } else {
        send(404, 'application/json', JSON.stringify({ statusCode: 404, message: `Cannot GET ${path}` }));
      }
    } catch (error) {
      send(500, 'application/json', JSON.stringify({ statusCode: 500, message: (error as Error).message }));
    }
  }
}
