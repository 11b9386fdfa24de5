import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { HealthService } from '@tasklane/observability';
import { BrokerListener, ListensToBroker } from './broker-listener.decorator';
import { BrokerListeners } from './broker-listeners.service';
import { listenOnBroker } from './broker-microservice.bootstrap';
import { BrokerTransport } from './broker.transport';

/** What happened, in order, across the listeners and the shutdown hooks. */
const journal: string[] = [];

@Injectable()
@ListensToBroker()
class ControlListener implements BrokerListener {
  listen(): Promise<void> {
    journal.push('control listens');
    return Promise.resolve();
  }
}

@Injectable()
@ListensToBroker()
class QueueListener implements BrokerListener {
  listen(): Promise<void> {
    journal.push('queue listens');
    return Promise.resolve();
  }

  async drain(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    journal.push('queue drained');
  }
}

@Injectable()
class ConnectionCloser implements OnModuleInit, OnApplicationShutdown {
  onModuleInit(): void {
    journal.push('connection opened');
  }

  onApplicationShutdown(): void {
    journal.push('connection closed');
  }
}

async function microservice(health: Pick<HealthService, 'markShuttingDown'>) {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      BrokerListeners,
      { provide: HealthService, useValue: health },
      ControlListener,
      QueueListener,
      ConnectionCloser,
    ],
  }).compile();
  moduleRef.useLogger(false);
  return listenOnBroker((options) => moduleRef.createNestMicroservice(options));
}

describe('BrokerTransport (a Nest microservice strategy over the broker listeners)', () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => journal.splice(0));

  it('starts every listener in discovery order once the app is initialised, start-up hooks run once', async () => {
    const app = await microservice({ markShuttingDown: jest.fn() });
    expect(journal).toEqual(['connection opened', 'control listens', 'queue listens']);
    await app.close();
  });

  it('drains on close before any shutdown hook, with readiness already down, and only once', async () => {
    const health = { markShuttingDown: jest.fn(() => journal.push('readiness down')) };
    const app = await microservice(health);
    journal.splice(0);

    await Promise.all([app.close(), app.close()]);

    expect(journal).toEqual(['readiness down', 'queue drained', 'connection closed']);
    expect(health.markShuttingDown).toHaveBeenCalledTimes(1);
  });

  it('refuses to listen before it is bound to the listeners', () => {
    const callback = jest.fn();
    new BrokerTransport().listen(callback);
    expect(callback).toHaveBeenCalledWith(expect.objectContaining({ message: expect.stringMatching(/before bind/) }));
  });
});
