import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { READINESS_CHECK, ReadinessCheck } from './readiness-check';

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  checks: Record<string, 'up' | 'down'>;
}

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Liveness is the process answering at all (a broker or database outage must not restart pods);
 * readiness is every dependency up and the process doing its work — and false once shutdown began.
 */
@Injectable()
export class HealthService implements OnModuleInit, OnModuleDestroy {
  private shuttingDown = false;
  private checks: ReadinessCheck[] = [];

  constructor(@Inject(DiscoveryService) private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    this.checks = this.discovery
      .getProviders()
      .filter(
        (wrapper) => wrapper.metatype && wrapper.instance && Reflect.getMetadata(READINESS_CHECK, wrapper.metatype),
      )
      .map((wrapper) => wrapper.instance as ReadinessCheck);
  }

  /**
   * The first teardown hook of `app.close()`: runs before any `beforeApplicationShutdown` (where
   * consumers drain for up to SHUTDOWN_GRACE_MS), so the probe says `shutdown` for the whole drain.
   * Global modules such as this one get their `beforeApplicationShutdown` last, after the drain.
   */
  onModuleDestroy(): void {
    this.markShuttingDown();
  }

  checkNames(): string[] {
    return this.checks.map((check) => check.name);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<ReadinessReport> {
    const results = await Promise.all(
      this.checks.map(async (check) => [check.name, await withTimeout(check)] as const),
    );
    const checks = Object.fromEntries(results.map(([name, up]) => [name, up ? 'up' : 'down'] as const));
    if (this.shuttingDown) {
      checks['shutdown'] = 'down';
    }
    const ready = !this.shuttingDown && results.every(([, up]) => up);
    return { status: ready ? 'ready' : 'not_ready', checks };
  }
}

async function withTimeout(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      // A check that throws, even synchronously, is down (not a failed readiness request).
      new Promise<boolean>((resolve) => resolve(check.isReady())).catch(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
