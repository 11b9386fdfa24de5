import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CallerAccess, CallerResource, DashboardSummary } from '@tasklane/contracts';
import { actorOf } from '../auth/actor.decorator';
import { ApiCaller } from '../auth/api-key.hooks';
import { ApiAccess } from '../auth/api-keys';
import { ApiErrors } from '../openapi/openapi.decorators';
import { SchemaName, schemaRef } from '../openapi/openapi.schemas';
import { DashboardStats } from './dashboard-stats.service';

function accessOf(caller: ApiCaller | null): CallerAccess {
  if (caller?.kind !== 'key') {
    return CallerAccess.Open;
  }
  switch (caller.access) {
    case ApiAccess.ReadOnly:
      return CallerAccess.ReadOnly;
    case ApiAccess.ReadWrite:
      return CallerAccess.ReadWrite;
  }
}

/** The reads only the dashboard needs (every other one is the tasks API itself). */
@ApiTags('dashboard')
@Controller('api/dashboard')
export class DashboardController {
  constructor(@Inject(DashboardStats) private readonly stats: DashboardStats) {}

  @Get('summary')
  @ApiOperation({
    summary: 'Counts by type and status, queue depths, recent throughput',
    description:
      'Exact counts per (task type, status), what the broker reports of each task queue (nulls while it is ' +
      'unreachable), and tasks finished per 5 s over the last 10 minutes as sampled by this gateway.',
  })
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.DashboardSummary) })
  @ApiErrors(503)
  summary(): Promise<DashboardSummary> {
    return this.stats.summary();
  }

  @Get('caller')
  @ApiOperation({
    summary: 'What the presented API key may do',
    description: 'A read-only key may read everything and change nothing (its POSTs get 403).',
  })
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.Caller) })
  caller(@Req() request: FastifyRequest): CallerResource {
    const access = accessOf(request.apiCaller);
    return { access, actor: actorOf(request.apiCaller), can_write: access !== CallerAccess.ReadOnly };
  }
}
