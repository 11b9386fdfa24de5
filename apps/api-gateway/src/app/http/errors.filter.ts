import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BrokerUnavailableError, MessageRejectedError } from '@tasklane/messaging';
import { DatabaseUnavailableError } from '@tasklane/persistence';
import { fastifyClientMessage } from './client-errors';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  [key: string]: unknown;
}

/**
 * Turns every error into a JSON response: HTTP exceptions as they are, Fastify's own client
 * errors (FST_*: body too large, unsupported media type…) with a fixed readable message, an
 * unreachable broker or database into 503 with a clear message, and anything else into a 500
 * that leaks nothing (the details go to the log).
 */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ErrorsFilter.name);

  /** @param bodyLimit BODY_LIMIT_BYTES, named in the 413's message. */
  constructor(private readonly bodyLimit = 4_194_304) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const body = this.toBody(exception, request);
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private toBody(exception: unknown, request: FastifyRequest): ErrorBody {
    if (exception instanceof HttpException) {
      const response = exception.getResponse();
      const status = exception.getStatus();
      if (typeof response === 'object') {
        return { statusCode: status, ...(response as object) } as ErrorBody;
      }
      // A string body comes from Nest's mapping of errors raised outside the handlers (Fastify's
      // FST_* errors become `new HttpException(error.message, error.statusCode)`).
      return {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: fastifyClientMessage(status, response, this.bodyLimit) ?? response,
      };
    }
    if (exception instanceof BrokerUnavailableError || exception instanceof MessageRejectedError) {
      this.logger.warn({
        message: 'broker unavailable',
        request_id: request.id,
        path: request.url,
        error: exception.message,
      });
      return unavailable('The message broker (RabbitMQ) is unavailable; nothing was changed. Retry later.');
    }
    if (exception instanceof DatabaseUnavailableError) {
      this.logger.warn({
        message: 'database unavailable',
        request_id: request.id,
        path: request.url,
        error: (exception as Error).message,
      });
      return unavailable('The database is unavailable; nothing was changed. Retry later.');
    }
    const fastifyStatus = (exception as { statusCode?: unknown }).statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      // Errors Fastify raises before routing: bad JSON, unsupported media type, body too large…
      return {
        statusCode: fastifyStatus,
        error: STATUS_CODES[fastifyStatus] ?? 'Bad Request',
        message:
          fastifyClientMessage(fastifyStatus, String((exception as Error).message), this.bodyLimit) ??
          STATUS_CODES[fastifyStatus] ??
          'Bad Request',
      };
    }
    this.logger.error({
      message: 'unhandled error',
      request_id: request.id,
      path: request.url,
      error: (exception as Error)?.stack ?? String(exception),
    });
    return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
  }
}

function unavailable(message: string): ErrorBody {
  return { statusCode: 503, error: 'Service Unavailable', message };
}
