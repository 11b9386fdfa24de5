import 'reflect-metadata';
import { runMain } from '@tasklane/config';
import { startBrokerMicroservice } from '@tasklane/messaging';
import { AppModule } from './app/app.module';
import { ReportWorkerEnv } from './app/report-worker.env';

runMain('worker-report', () => startBrokerMicroservice('worker-report', AppModule, ReportWorkerEnv));
