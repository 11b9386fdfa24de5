import { Registry, collectDefaultMetrics } from 'prom-client';

/** A registry of this process's metrics, every series labelled with the app's name. */
export function createRegistry(appName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app: appName });
  collectDefaultMetrics({ register: registry });
  return registry;
}
