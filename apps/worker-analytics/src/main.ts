import 'reflect-metadata';
import { runMain, startHeadlessApp } from '@tasklane/config';
import { WorkerEnv } from '@tasklane/worker-runtime';
import { AppModule } from './app/app.module';

runMain('worker-analytics', () => startHeadlessApp('worker-analytics', AppModule, WorkerEnv));
