import 'reflect-metadata';
import { runMain, startHeadlessApp } from '@tasklane/config';
import { AppModule } from './app/app.module';
import { ReportWorkerEnv } from './app/report-worker.env';

runMain('worker-report', () => startHeadlessApp('worker-report', AppModule, ReportWorkerEnv));
