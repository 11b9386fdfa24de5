import { DynamicModule, Module, Provider } from '@nestjs/common';
import { loadConfig } from './load-config';

/**
 * Validates the environment once, at start-up, into an instance of `schema`, and provides it
 * under its own class and under every class it extends (so a library can inject `BaseEnv`
 * while the app injects its own subclass). An invalid environment stops the start.
 */
@Module({})
export class ConfigModule {
  static forRoot<T extends object>(schema: new () => T, env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const providers: Provider[] = [{ provide: schema, useFactory: () => loadConfig(schema, env) }];
    let ancestor = Object.getPrototypeOf(schema) as (new () => object) | null;
    while (ancestor && ancestor !== Function.prototype && ancestor.prototype !== undefined) {
      providers.push({ provide: ancestor, useExisting: schema });
      ancestor = Object.getPrototypeOf(ancestor) as (new () => object) | null;
    }
    return {
      module: ConfigModule,
      global: true,
      providers,
      exports: providers.map((provider) => (provider as { provide: unknown }).provide as never),
    };
  }
}
