export * from './lib/health/readiness-check';
export * from './lib/health/health.service';
export * from './lib/metrics/task-metrics';
export * from './lib/metrics/metrics.registry';
export * from './lib/ops-server/ops-http.server';
export * from './lib/observability.module';
