import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Registry } from 'prom-client';
import { HealthService } from './health/health.service';
import { createRegistry } from './metrics/metrics.registry';
import { TaskMetrics } from './metrics/task-metrics';
import { OpsHttpServer } from './ops-server/ops-http.server';

export interface ObservabilityOptions {
  appName: string;
  /** Serve health and metrics on HEALTH_PORT (apps without their own HTTP API). */
  opsServer: boolean;
}

/**
 * Metrics (a Prometheus registry with Tasklane's metrics and the process defaults) and health
 * (every `@ProvidesReadiness()` provider of the app), plus — for headless apps — the HTTP server
 * that exposes them.
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: Registry, useFactory: () => createRegistry(options.appName) },
      { provide: TaskMetrics, inject: [Registry], useFactory: (registry: Registry) => new TaskMetrics(registry) },
      HealthService,
      ...(options.opsServer ? [OpsHttpServer] : []),
    ];
    return {
      module: ObservabilityModule,
      imports: [DiscoveryModule],
      providers,
      exports: [Registry, TaskMetrics, HealthService],
    };
  }
}
