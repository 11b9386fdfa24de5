import 'reflect-metadata';
import { runMain } from '@tasklane/config';
import { startBrokerMicroservice } from '@tasklane/messaging';
import { AppModule } from './app/app.module';
import { CleanupWorkerEnv } from './app/cleanup-worker.env';

runMain('worker-cleanup', () => startBrokerMicroservice('worker-cleanup', AppModule, CleanupWorkerEnv));
