import 'reflect-metadata';
import { BeforeApplicationShutdown, Injectable, Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { request as httpRequest } from 'node:http';
import { BaseEnv, ConfigModule } from '@tasklane/config';
import { parsePrometheusText, sampleValue } from '@tasklane/testing';
import { HealthService } from '../health/health.service';
import { ProvidesReadiness, ReadinessCheck } from '../health/readiness-check';
import { TaskMetrics } from '../metrics/task-metrics';
import { ObservabilityModule } from '../observability.module';
import { OpsHttpServer } from './ops-http.server';

const state = { brokerUp: true, consumerUp: true };

@ProvidesReadiness()
class FakeBrokerReadiness implements ReadinessCheck {
  readonly name = 'rabbitmq';
  isReady(): boolean {
    return state.brokerUp;
  }
}

@ProvidesReadiness()
class FakeConsumerReadiness implements ReadinessCheck {
  readonly name = 'consumer';
  async isReady(): Promise<boolean> {
    return state.consumerUp;
  }
}

/** Stands for a consumer draining its in-flight work on shutdown (as the workers and the tracker do). */
@Injectable()
class FakeDrain implements BeforeApplicationShutdown {
  static release: (() => void) | null = null;
  static draining = false;

  async beforeApplicationShutdown(): Promise<void> {
    FakeDrain.draining = true;
    state.consumerUp = false;
    await new Promise<void>((resolve) => (FakeDrain.release = resolve));
  }
}

@Module({ providers: [FakeBrokerReadiness, FakeConsumerReadiness] })
class FakeDependenciesModule {}

@Module({ providers: [FakeDrain] })
class FakeDrainModule {}

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** One request on a fresh connection (no keep-alive), so nothing lingers between tests. */
function call(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function startOpsServer(): Promise<{ module: TestingModule; port: number }> {
  const module = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(BaseEnv, { HEALTH_PORT: '0' }),
      ObservabilityModule.forRoot({ appName: 'worker-email', opsServer: true }),
      FakeDependenciesModule,
    ],
  }).compile();
  await module.init();
  const port = module.get(OpsHttpServer).port();
  if (port === null) {
    throw new Error('the ops server is not listening');
  }
  return { module, port };
}

describe('OpsHttpServer', () => {
  let module: TestingModule;
  let port: number;
  let closed: boolean;

  beforeEach(async () => {
    state.brokerUp = true;
    state.consumerUp = true;
    closed = false;
    ({ module, port } = await startOpsServer());
  });

  afterEach(async () => {
    if (!closed) {
      await module.close();
    }
  });

  it('listens on a port of its own when HEALTH_PORT is 0', () => {
    expect(port).toBeGreaterThan(0);
  });

  it('GET /health/live answers 200 {status: alive} in JSON', async () => {
    const answer = await call(port, '/health/live');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual({ status: 'alive' });
  });

  it('GET /health/live stays 200 while a dependency is down (an outage must not restart the pod)', async () => {
    state.brokerUp = false;
    expect((await call(port, '/health/live')).status).toBe(200);
  });

  it('GET /health/ready answers 200 with the report when every check is up', async () => {
    const answer = await call(port, '/health/ready');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual({ status: 'ready', checks: { rabbitmq: 'up', consumer: 'up' } });
  });

  it('GET /health/ready answers 503 naming the check that is down', async () => {
    state.brokerUp = false;
    const answer = await call(port, '/health/ready');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ status: 'not_ready', checks: { rabbitmq: 'down', consumer: 'up' } });
    state.brokerUp = true;
    expect((await call(port, '/health/ready')).status).toBe(200);
  });

  it('GET /health/ready ignores a query string', async () => {
    state.consumerUp = false;
    const answer = await call(port, '/health/ready?verbose=1');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ status: 'not_ready', checks: { rabbitmq: 'up', consumer: 'down' } });
  });

  it('GET /health/ready answers 503 with shutdown: down once shutdown began', async () => {
    module.get(HealthService).markShuttingDown();
    const answer = await call(port, '/health/ready');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'up', consumer: 'up', shutdown: 'down' },
    });
  });

  it('GET /metrics answers the registry in Prometheus text format, with the Tasklane metrics used so far', async () => {
    module.get(TaskMetrics).started.inc({ task_type: 'email' });
    const answer = await call(port, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const exposition = parsePrometheusText(answer.body);
    expect(exposition.types['tasklane_tasks_started_total']).toBe('counter');
    expect(sampleValue(exposition, 'tasklane_tasks_started_total', { task_type: 'email', app: 'worker-email' })).toBe(
      1,
    );
    expect(sampleValue(exposition, 'process_cpu_user_seconds_total', { app: 'worker-email' })).toEqual(
      expect.any(Number),
    );
  });

  it('answers 404 in JSON to an unknown path', async () => {
    for (const path of ['/', '/health', '/metrics/x', '/health/ready/']) {
      const answer = await call(port, path);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.contentType).toMatch(/^application\/json/);
      expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 404 });
    }
  });

  it('answers 405 to anything but GET', async () => {
    for (const [method, path] of [
      ['POST', '/health/ready'],
      ['PUT', '/metrics'],
      ['DELETE', '/health/live'],
    ]) {
      const answer = await call(port, path, method);
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 405 });
      expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 405 });
    }
  });

  it('stops listening when the app closes, even with a keep-alive connection open', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(response.status).toBe(200);
    await response.text();
    const started = Date.now();
    closed = true;
    await module.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(module.get(OpsHttpServer).port()).toBeNull();
    await expect(call(port, '/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('reports shutdown: down from the moment the app begins to close', async () => {
    closed = true;
    const health = module.get(HealthService);
    await module.close();
    await expect(health.readiness()).resolves.toMatchObject({
      status: 'not_ready',
      checks: { shutdown: 'down' },
    });
  });

  it('answers 503 with shutdown: down while the app drains, and live 200 until it stops', async () => {
    closed = true;
    await module.close();
    const draining = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(BaseEnv, { HEALTH_PORT: '0' }),
        ObservabilityModule.forRoot({ appName: 'worker-email', opsServer: true }),
        FakeDependenciesModule,
        FakeDrainModule,
      ],
    }).compile();
    await draining.init();
    const drainingPort = draining.get(OpsHttpServer).port() as number;
    FakeDrain.draining = false;
    const closing = draining.close();
    try {
      await waitUntil(() => FakeDrain.draining);
      const ready = await call(drainingPort, '/health/ready');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({
        status: 'not_ready',
        checks: { rabbitmq: 'up', consumer: 'down', shutdown: 'down' },
      });
      expect((await call(drainingPort, '/health/live')).status).toBe(200);
    } finally {
      FakeDrain.release?.();
      await closing;
    }
    await expect(call(drainingPort, '/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses to start when HEALTH_PORT is taken', async () => {
    const second = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(BaseEnv, { HEALTH_PORT: String(port) }),
        ObservabilityModule.forRoot({ appName: 'worker-email', opsServer: true }),
      ],
    }).compile();
    await expect(second.init()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // close() rethrows the failed start; it must not leave anything listening either.
    await second.close().catch(() => undefined);
    expect(second.get(OpsHttpServer).port()).toBeNull();
  });
});

describe('ObservabilityModule without the ops server', () => {
  it('serves nothing (the gateway exposes health and metrics on its API port)', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(BaseEnv, { HEALTH_PORT: '0' }),
        ObservabilityModule.forRoot({ appName: 'api-gateway', opsServer: false }),
      ],
    }).compile();
    await module.init();
    try {
      expect(() => module.get(OpsHttpServer)).toThrow();
      expect(module.get(TaskMetrics)).toBeInstanceOf(TaskMetrics);
      expect(module.get(HealthService)).toBeInstanceOf(HealthService);
    } finally {
      await module.close();
    }
  });
});
