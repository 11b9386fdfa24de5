import { TasklaneError } from '@tasklane/concurrency';

/** The broker cannot take the message now (disconnected, channel closed, no confirm in time). */
export class BrokerUnavailableError extends TasklaneError {
  readonly transient = true;
}

/** The broker returned the message as unroutable: no queue is bound for it (a topology fault). */
export class MessageRejectedError extends TasklaneError {
  readonly transient = false;
}

/** Where an AMQP URL points, without credentials (safe to log). */
export function describeAmqpUrl(url: string): string {
  const parsed = new URL(url);
  const vhost = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '/';
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672')} vhost ${vhost}`;
}
