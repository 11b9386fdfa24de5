import { BeforeApplicationShutdown, Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { HealthService, ReadinessReport } from '@tasklane/observability';
import { Public } from '../auth/public.decorator';

/** Probes and metrics of the gateway, on its API port (open, no authentication). */
@ApiTags('operations')
@Public()
@Controller()
export class OpsController implements BeforeApplicationShutdown {
  constructor(
    @Inject(HealthService) private readonly health: HealthService,
    @Inject(Registry) private readonly registry: Registry,
  ) {}

  /** The process answers. A broker or database outage does not make it fail (no restarts). */
  @Get('health/live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiResponse({ status: 200 })
  live(): { status: 'alive' } {
    return { status: 'alive' };
  }

  /** RabbitMQ and the database reachable, and not shutting down; 503 otherwise. */
  @Get('health/ready')
  @ApiOperation({ summary: 'Readiness: RabbitMQ and the database reachable' })
  @ApiResponse({ status: 200, description: 'Ready' })
  @ApiResponse({ status: 503, description: 'Not ready: a dependency is down, or shutting down' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessReport> {
    const report = await this.health.readiness();
    void reply.status(report.status === 'ready' ? 200 : 503);
    return report;
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  // Without a schema, Swagger drops the response's content type.
  @ApiResponse({ status: 200, description: 'Prometheus text format', schema: { type: 'string' } })
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  beforeApplicationShutdown(): void {
    this.health.markShuttingDown();
  }
}
