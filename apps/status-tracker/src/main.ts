import 'reflect-metadata';
import { runMain, startHeadlessApp } from '@tasklane/config';
import { AppModule } from './app/app.module';
import { TrackerEnv } from './app/tracker.env';

runMain('status-tracker', () => startHeadlessApp('status-tracker', AppModule, TrackerEnv));
