import 'reflect-metadata';
import { Inject, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Expose } from 'class-transformer';
import { IsInt, Min } from 'class-validator';
import { BaseEnv } from './base.env';
import { ConfigModule } from './config.module';
import { ConfigValidationError } from './load-config';

class WorkerLikeEnv extends BaseEnv {
  @Expose()
  @IsInt()
  @Min(1)
  readonly CONCURRENCY: number = 4;
}

class AppEnv extends WorkerLikeEnv {
  @Expose()
  @IsInt()
  readonly PORT: number = 3000;
}

@Injectable()
class NeedsBaseEnv {
  constructor(@Inject(BaseEnv) readonly env: BaseEnv) {}
}

describe('ConfigModule.forRoot', () => {
  it('provides the validated instance under the schema and every ancestor class', async () => {
    const module = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(AppEnv, { PORT: '8080', CONCURRENCY: '2' })],
    }).compile();

    const app = module.get(AppEnv);
    expect(app).toBeInstanceOf(AppEnv);
    expect(app.PORT).toBe(8080);
    expect(app.CONCURRENCY).toBe(2);
    expect(module.get(WorkerLikeEnv)).toBe(app);
    expect(module.get(BaseEnv)).toBe(app);
    await module.close();
  });

  it('lets a provider of another module inject an ancestor class', async () => {
    const module = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(AppEnv, {})],
      providers: [NeedsBaseEnv],
    }).compile();

    expect(module.get(NeedsBaseEnv).env).toBe(module.get(AppEnv));
    await module.close();
  });

  it('does not provide classes outside the chain', () => {
    const dynamic = ConfigModule.forRoot(WorkerLikeEnv, {});
    const tokens = (dynamic.providers ?? []).map((provider) => (provider as { provide: unknown }).provide);
    expect(tokens).toEqual([WorkerLikeEnv, BaseEnv]);
    expect(dynamic.exports).toEqual(tokens);
    expect(dynamic.global).toBe(true);
  });

  it('refuses to start with an invalid environment', async () => {
    await expect(
      Test.createTestingModule({ imports: [ConfigModule.forRoot(AppEnv, { CONCURRENCY: '0' })] }).compile(),
    ).rejects.toBeInstanceOf(ConfigValidationError);
  });
});
