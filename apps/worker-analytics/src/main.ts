import 'reflect-metadata';
import { runMain } from '@tasklane/config';
import { startBrokerMicroservice } from '@tasklane/messaging';
import { WorkerEnv } from '@tasklane/worker-runtime';
import { AppModule } from './app/app.module';

runMain('worker-analytics', () => startBrokerMicroservice('worker-analytics', AppModule, WorkerEnv));
