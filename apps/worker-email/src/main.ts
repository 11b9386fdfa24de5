import 'reflect-metadata';
import { runMain, startHeadlessApp } from '@tasklane/config';
import { AppModule } from './app/app.module';
import { EmailWorkerEnv } from './app/email-worker.env';

runMain('worker-email', () => startHeadlessApp('worker-email', AppModule, EmailWorkerEnv));
