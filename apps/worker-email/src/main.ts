import 'reflect-metadata';
import { runMain } from '@tasklane/config';
import { startBrokerMicroservice } from '@tasklane/messaging';
import { AppModule } from './app/app.module';
import { EmailWorkerEnv } from './app/email-worker.env';

runMain('worker-email', () => startBrokerMicroservice('worker-email', AppModule, EmailWorkerEnv));
