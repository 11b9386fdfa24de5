import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test, TestingModule } from '@nestjs/testing';
import { HealthService } from './health.service';
import { ProvidesReadiness, ReadinessCheck } from './readiness-check';

/** What the fake dependencies answer; each test sets it. */
const answers: Record<string, () => Promise<boolean> | boolean> = {};

@ProvidesReadiness()
class FakeBrokerReadiness implements ReadinessCheck {
  readonly name = 'rabbitmq';
  isReady(): Promise<boolean> | boolean {
    return answers['rabbitmq']();
  }
}

@ProvidesReadiness()
class FakeDatabaseReadiness implements ReadinessCheck {
  readonly name = 'database';
  isReady(): Promise<boolean> | boolean {
    return answers['database']();
  }
}

/** A provider with the same shape but without the decorator: not a readiness check. */
@Injectable()
class NotACheck implements ReadinessCheck {
  readonly name = 'not-a-check';
  isReady(): boolean {
    return false;
  }
}

/** The checks live in another module, as in the apps (the module owning a dependency provides its check). */
@Module({ providers: [FakeDatabaseReadiness, NotACheck], exports: [FakeDatabaseReadiness] })
class FakeDatabaseModule {}

async function healthOf(): Promise<{ module: TestingModule; health: HealthService }> {
  const module = await Test.createTestingModule({
    imports: [DiscoveryModule, FakeDatabaseModule],
    providers: [HealthService, FakeBrokerReadiness],
  }).compile();
  await module.init();
  return { module, health: module.get(HealthService) };
}

describe('HealthService', () => {
  let module: TestingModule;
  let health: HealthService;

  beforeEach(async () => {
    answers['rabbitmq'] = () => true;
    answers['database'] = async () => true;
    ({ module, health } = await healthOf());
  });

  afterEach(async () => {
    jest.useRealTimers();
    await module.close();
  });

  it('discovers every @ProvidesReadiness() provider, and only those', () => {
    expect(health.checkNames().sort()).toEqual(['database', 'rabbitmq']);
  });

  it('is ready when every check is up', async () => {
    await expect(health.readiness()).resolves.toEqual({
      status: 'ready',
      checks: { rabbitmq: 'up', database: 'up' },
    });
  });

  it('is not ready when one check is down, and names it', async () => {
    answers['database'] = async () => false;
    await expect(health.readiness()).resolves.toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'up', database: 'down' },
    });
    answers['rabbitmq'] = () => false;
    await expect(health.readiness()).resolves.toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'down', database: 'down' },
    });
  });

  it('counts a check that rejects as down', async () => {
    answers['database'] = () => Promise.reject(new Error('ECONNREFUSED'));
    await expect(health.readiness()).resolves.toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'up', database: 'down' },
    });
  });

  it('counts a check that throws synchronously as down', async () => {
    answers['rabbitmq'] = () => {
      throw new Error('no connection object');
    };
    await expect(health.readiness()).resolves.toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'down', database: 'up' },
    });
  });

  it('counts a check that hangs for more than 2 s as down, without waiting longer', async () => {
    jest.useFakeTimers();
    answers['database'] = () => new Promise<boolean>(() => undefined);
    let report: unknown;
    const pending = health.readiness().then((value) => (report = value));
    await jest.advanceTimersByTimeAsync(1_999);
    expect(report).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    await pending;
    expect(report).toEqual({ status: 'not_ready', checks: { rabbitmq: 'up', database: 'down' } });
  });

  it('counts a slow check that answers within 2 s as up', async () => {
    jest.useFakeTimers();
    answers['database'] = () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 1_500));
    const pending = health.readiness();
    await jest.advanceTimersByTimeAsync(1_500);
    await expect(pending).resolves.toEqual({ status: 'ready', checks: { rabbitmq: 'up', database: 'up' } });
  });

  it('reports not_ready with shutdown: down once shutdown began, even with every check up', async () => {
    health.markShuttingDown();
    await expect(health.readiness()).resolves.toEqual({
      status: 'not_ready',
      checks: { rabbitmq: 'up', database: 'up', shutdown: 'down' },
    });
  });

  it('is ready with no check at all (nothing to wait for)', async () => {
    const empty = await Test.createTestingModule({ imports: [DiscoveryModule], providers: [HealthService] }).compile();
    await empty.init();
    try {
      await expect(empty.get(HealthService).readiness()).resolves.toEqual({ status: 'ready', checks: {} });
    } finally {
      await empty.close();
    }
  });
});
