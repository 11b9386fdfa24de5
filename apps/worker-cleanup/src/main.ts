import 'reflect-metadata';
import { runMain, startHeadlessApp } from '@tasklane/config';
import { AppModule } from './app/app.module';
import { CleanupWorkerEnv } from './app/cleanup-worker.env';

runMain('worker-cleanup', () => startHeadlessApp('worker-cleanup', AppModule, CleanupWorkerEnv));
