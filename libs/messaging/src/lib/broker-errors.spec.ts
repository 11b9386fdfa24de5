import { describeAmqpUrl } from './broker-errors';

describe('describeAmqpUrl', () => {
  it.each([
    ['amqp://user:s3cret@rabbit.internal:5673/tasklane', 'rabbit.internal:5673 vhost tasklane'],
    ['amqp://guest:guest@127.0.0.1:5672', '127.0.0.1:5672 vhost /'],
    ['amqp://guest:guest@127.0.0.1:5672/', '127.0.0.1:5672 vhost /'],
    ['amqp://rabbit', 'rabbit:5672 vhost /'],
    ['amqps://user:pw@rabbit.example.com/prod', 'rabbit.example.com:5671 vhost prod'],
    ['amqp://rabbit/%2F', 'rabbit:5672 vhost /'],
    ['amqp://rabbit/team%2Fprod', 'rabbit:5672 vhost team/prod'],
  ])('%s → %s', (url, expected) => {
    expect(describeAmqpUrl(url)).toBe(expected);
  });

  it('never contains the credentials', () => {
    const description = describeAmqpUrl('amqps://alice:hunter2@broker:5671/vh');
    expect(description).not.toContain('alice');
    expect(description).not.toContain('hunter2');
  });
});
