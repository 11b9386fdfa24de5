import 'reflect-metadata';
import { runMain } from '@tasklane/config';
import { startBrokerMicroservice } from '@tasklane/messaging';
import { AppModule } from './app/app.module';
import { TrackerEnv } from './app/tracker.env';

runMain('status-tracker', () => startBrokerMicroservice('status-tracker', AppModule, TrackerEnv));
