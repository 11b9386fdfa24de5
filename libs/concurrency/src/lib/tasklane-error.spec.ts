import { TasklaneError, isTransient } from './tasklane-error';

class Unavailable extends TasklaneError {
  readonly transient = true;
}

class Broken extends TasklaneError {
  readonly transient = false;
}

describe('TasklaneError', () => {
  it('is an Error named after its class, keeping its cause', () => {
    const cause = new Error('socket closed');
    const error = new Unavailable('the database is unavailable', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('Unavailable');
    expect(error.message).toBe('the database is unavailable');
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe('Unavailable: the database is unavailable');
  });

  it('tells transient failures from the others, and knows nothing of foreign errors', () => {
    expect(isTransient(new Unavailable('x'))).toBe(true);
    expect(isTransient(new Broken('x'))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isTransient('ECONNREFUSED')).toBe(false);
  });
});
