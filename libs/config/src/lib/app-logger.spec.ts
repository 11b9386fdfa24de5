import { Logger } from '@nestjs/common';
import { Writable } from 'node:stream';
import { PinoLogger, PrettyLogger, createAppLogger } from './app-logger';

/**
 * pino writes straight to file descriptor 1 (not through process.stdout.write), so the
 * destination is swapped for an in-memory stream: everything else — the options createAppLogger
 * passes — is pino's own.
 */
const mockPinoOutput: string[] = [];
jest.mock('pino', () => {
  const actual = jest.requireActual('pino');
  const { Writable: MockWritable } = jest.requireActual<typeof import('node:stream')>('node:stream');
  const destination = new MockWritable({
    write(chunk: Buffer, _encoding: string, done: () => void) {
      mockPinoOutput.push(chunk.toString());
      done();
    },
  });
  const wrapped = (options: object) => actual(options, destination);
  return Object.assign(wrapped, actual, { default: wrapped, pino: wrapped });
});

/** The JSON objects written since the last call, one per line. */
function pinoLines(): Array<Record<string, unknown>> {
  const text = mockPinoOutput.splice(0).join('');
  const lines = text.split('\n').filter((line) => line !== '');
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createAppLogger (json)', () => {
  /** createAppLogger's JSON logger (its type says LoggerService, whose debug and fatal are optional). */
  const jsonLogger = (level: Parameters<typeof createAppLogger>[1]): PinoLogger =>
    createAppLogger('worker-email', level, 'json') as PinoLogger;
  let logger: PinoLogger;

  beforeEach(() => {
    mockPinoOutput.splice(0);
    logger = jsonLogger('log');
  });

  it('is a PinoLogger', () => {
    expect(createAppLogger('worker-email', 'log', 'json')).toBeInstanceOf(PinoLogger);
  });

  it('writes one JSON line per call with level, ISO time, app, pid, context and message', () => {
    logger.log('worker-email started', 'Bootstrap');
    const raw = mockPinoOutput.join('');
    expect(raw.endsWith('\n')).toBe(true);
    expect(raw.trimEnd().split('\n')).toHaveLength(1);
    const [line] = pinoLines();
    expect(line).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      app: 'worker-email',
      pid: process.pid,
      context: 'Bootstrap',
      message: 'worker-email started',
    });
  });

  it('puts the fields of a structured message at the top level', () => {
    logger.log({ message: 'task started', task_id: 't-1', task_name: 'email.send', attempt: 2 }, 'TaskConsumer');
    expect(pinoLines()).toEqual([
      expect.objectContaining({
        level: 'info',
        app: 'worker-email',
        context: 'TaskConsumer',
        message: 'task started',
        task_id: 't-1',
        task_name: 'email.send',
        attempt: 2,
      }),
    ]);
  });

  it('writes one line per call, in order, at the level of the call', () => {
    logger.log('one', 'A');
    logger.warn('two', 'B');
    logger.error('three', 'C');
    logger.fatal('four', 'D');
    expect(pinoLines().map((line) => [line['level'], line['context'], line['message']])).toEqual([
      ['info', 'A', 'one'],
      ['warn', 'B', 'two'],
      ['error', 'C', 'three'],
      ['fatal', 'D', 'four'],
    ]);
  });

  it("logs an Error's message and stack", () => {
    const error = new Error('boom');
    logger.error(error, 'Shutdown');
    expect(pinoLines()).toEqual([
      expect.objectContaining({ level: 'error', context: 'Shutdown', message: 'boom', stack: error.stack }),
    ]);
  });

  it('logs the stack Nest passes to error(message, stack, context)', () => {
    const stack = new Error('boom').stack as string;
    logger.error('unhandled error', stack, 'ExceptionsHandler');
    expect(pinoLines()).toEqual([
      expect.objectContaining({ level: 'error', context: 'ExceptionsHandler', message: 'unhandled error', stack }),
    ]);
  });

  it('serves a Nest Logger with a context (as the apps use it)', () => {
    const nestLogger = new Logger('TaskConsumer');
    Logger.overrideLogger(logger);
    try {
      nestLogger.log({ message: 'task succeeded', task_id: 't-2' });
      nestLogger.error(new Error('exploded'));
      nestLogger.warn('plain text');
    } finally {
      Logger.overrideLogger(new Logger());
    }
    const lines = pinoLines();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', context: 'TaskConsumer', message: 'task succeeded', task_id: 't-2' }),
      expect.objectContaining({
        level: 'error',
        context: 'TaskConsumer',
        message: 'exploded',
        stack: expect.stringContaining('Error: exploded'),
      }),
      expect.objectContaining({ level: 'warn', context: 'TaskConsumer', message: 'plain text' }),
    ]);
  });

  it('hides debug and verbose at LOG_LEVEL=log', () => {
    logger.debug('hidden', 'A');
    logger.verbose('hidden too', 'A');
    logger.log('shown', 'A');
    expect(pinoLines().map((line) => line['message'])).toEqual(['shown']);
  });

  it('shows debug at LOG_LEVEL=debug, but not verbose', () => {
    const debugLogger = jsonLogger('debug');
    debugLogger.verbose('hidden', 'A');
    debugLogger.debug({ message: 'events written', applied: 3 }, 'A');
    expect(pinoLines()).toEqual([expect.objectContaining({ level: 'debug', message: 'events written', applied: 3 })]);
  });

  it('shows only errors and worse at LOG_LEVEL=error', () => {
    const quiet = jsonLogger('error');
    quiet.log('no', 'A');
    quiet.warn('no', 'A');
    quiet.error('yes', 'A');
    quiet.fatal('yes too', 'A');
    expect(pinoLines().map((line) => line['level'])).toEqual(['error', 'fatal']);
  });

  it('keeps a line with a newline in the message on one line', () => {
    logger.log('first\nsecond', 'A');
    const raw = mockPinoOutput.join('');
    expect(raw.trimEnd().split('\n')).toHaveLength(1);
    expect(pinoLines()[0]['message']).toBe('first\nsecond');
  });
});

describe('PinoLogger on a destination of its own', () => {
  it('writes JSON lines to the pino instance it is given', () => {
    const actualPino = jest.requireActual<typeof import('pino')>('pino');
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const logger = new PinoLogger(
      actualPino.pino(
        {
          level: 'info',
          base: { app: 'status-tracker' },
          messageKey: 'message',
          formatters: { level: (label) => ({ level: label }) },
        },
        destination,
      ),
    );
    logger.log({ message: 'relayed', count: 2 }, 'OutboxRelay');
    logger.debug('hidden', 'OutboxRelay');
    const lines = chunks.join('').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'info',
      app: 'status-tracker',
      context: 'OutboxRelay',
      message: 'relayed',
      count: 2,
    });
  });
});

describe('createAppLogger (pretty)', () => {
  let stdout: jest.SpyInstance;
  let stderr: jest.SpyInstance;

  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    stdout.mockRestore();
    stderr.mockRestore();
  });

  const written = (spy: jest.SpyInstance): string =>
    spy.mock.calls
      .map(([chunk]) => String(chunk))
      .join('')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, '');

  it('is a PrettyLogger', () => {
    expect(createAppLogger('api-gateway', 'log', 'pretty')).toBeInstanceOf(PrettyLogger);
  });

  it('prints a structured message as `message key=value` on one line', () => {
    const logger = createAppLogger('worker-email', 'log', 'pretty');
    logger.log({ message: 'task started', task_id: 't-1', attempt: 2, tags: ['a', 'b'] }, 'TaskConsumer');
    const output = written(stdout);
    expect(output.trimEnd().split('\n')).toHaveLength(1);
    expect(output).toContain('[worker-email]');
    expect(output).toContain('[TaskConsumer]');
    expect(output).toContain('task started task_id=t-1 attempt=2 tags=["a","b"]');
    expect(output).not.toContain('Object(');
  });

  it('prints plain text as it is', () => {
    const logger = createAppLogger('worker-email', 'log', 'pretty');
    logger.log('worker-email started', 'Bootstrap');
    expect(written(stdout)).toMatch(/LOG \[Bootstrap\] worker-email started/);
  });

  it('hides debug at LOG_LEVEL=log and shows it at debug', () => {
    (createAppLogger('worker-email', 'log', 'pretty') as PrettyLogger).debug('hidden', 'A');
    expect(written(stdout)).toBe('');
    (createAppLogger('worker-email', 'debug', 'pretty') as PrettyLogger).debug('shown', 'A');
    expect(written(stdout)).toContain('shown');
  });

  it("keeps an Error's stack", () => {
    const logger = createAppLogger('worker-email', 'log', 'pretty');
    logger.error(new Error('exploded'), 'Shutdown');
    expect(written(stderr)).toContain('exploded');
    expect(written(stderr)).toMatch(/at .*app-logger\.spec\.ts/);
  });
});
