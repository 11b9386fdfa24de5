import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ListSchedulesQuery,
  ScheduleListLimit,
  SchedulePage,
  ScheduleResource,
  ValidSchedule,
} from '@tasklane/contracts';
import { Actor } from '../auth/actor.decorator';
import { UuidParamPipe } from '../http/uuid-param.pipe';
import { ApiErrors, ApiQueryFrom } from '../openapi/openapi.decorators';
import { SCHEDULE_LIST_QUERY_SCHEMA, SchemaName, schemaRef } from '../openapi/openapi.schemas';
import { ScheduleBodyPipe } from './schedule-body.pipe';
import { SchedulesService } from './schedules.service';

const SCHEDULE_ID = 'schedule_id';
const SCHEDULE_ID_PARAM = { name: SCHEDULE_ID, schema: { type: 'string', format: 'uuid' } } as const;
const scheduleIdPipe = new UuidParamPipe(SCHEDULE_ID);

@ApiTags('schedules')
@Controller('api/schedules')
export class SchedulesController {
  constructor(@Inject(SchedulesService) private readonly schedules: SchedulesService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a cron schedule',
    description:
      'At each tick of `cron` (5 fields, or 6 with seconds first), read in `timezone` (IANA, default UTC), one ' +
      'task is enqueued — exactly one, however many trackers run and across restarts. The task is given like an ' +
      'enqueue (`task_name`, `params`, `priority`, `max_retries`, `timeout_ms`), validated the same way; its ' +
      '`run_at` is the tick. A tick missed while every tracker was down (older than SCHEDULE_MISFIRE_GRACE_MS) ' +
      'fires once on recovery (`missed: fire_once`, the default) or not at all (`skip`). `overlap: skip` fires ' +
      "nothing for a tick while the previous tick's task is pending or running (default `allow`). `enabled: false` " +
      'creates it paused. Names are unique (case-insensitive): a taken one is a 409 naming `name`.',
  })
  @ApiBody({ schema: schemaRef(SchemaName.ScheduleRequest) })
  @ApiResponse({ status: 201, schema: schemaRef(SchemaName.ScheduleResource) })
  @ApiErrors(400, 409, 415, 503)
  create(@Body(ScheduleBodyPipe) schedule: ValidSchedule, @Actor() actor: string): Promise<ScheduleResource> {
    return this.schedules.create(schedule, actor);
  }

  @Get()
  @ApiOperation({
    summary: 'List schedules by name',
    description: 'Keyset-paged: pass `next_cursor` as `cursor`; null on the last page.',
  })
  @ApiQueryFrom(SCHEDULE_LIST_QUERY_SCHEMA)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.SchedulePage) })
  @ApiErrors(400, 503)
  list(@Query() query: ListSchedulesQuery): Promise<SchedulePage> {
    return this.schedules.list(query.limit ?? ScheduleListLimit.Default, query.cursor ?? null);
  }

  @Get(':schedule_id')
  @ApiOperation({ summary: 'Get a schedule', description: 'With its next tick and the task its last tick enqueued.' })
  @ApiParam(SCHEDULE_ID_PARAM)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.ScheduleResource) })
  @ApiErrors(400, 404, 503)
  get(@Param(SCHEDULE_ID, scheduleIdPipe) scheduleId: string): Promise<ScheduleResource> {
    return this.schedules.get(scheduleId);
  }

  @Patch(':schedule_id')
  @ApiOperation({
    summary: 'Change, pause or resume a schedule',
    description:
      'Any fields of the create body; the rest stay (`params` is replaced whole). `enabled: false` pauses it: no ' +
      'tick fires until `enabled: true`, which resumes from the next tick after now (the ticks of the pause are ' +
      'not made up). A new `cron` or `timezone` also starts from the next tick after now.',
  })
  @ApiParam(SCHEDULE_ID_PARAM)
  @ApiBody({ schema: schemaRef(SchemaName.SchedulePatch) })
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.ScheduleResource) })
  @ApiErrors(400, 404, 409, 415, 503)
  update(
    @Param(SCHEDULE_ID, scheduleIdPipe) scheduleId: string,
    @Body() patch: unknown,
    @Actor() actor: string,
  ): Promise<ScheduleResource> {
    return this.schedules.update(scheduleId, patch, actor);
  }

  @Delete(':schedule_id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a schedule',
    description: 'No tick fires after it. The tasks it already enqueued stay (cancel them as any task).',
  })
  @ApiParam(SCHEDULE_ID_PARAM)
  @ApiResponse({ status: 204, description: 'Deleted.' })
  @ApiErrors(400, 404, 503)
  async delete(@Param(SCHEDULE_ID, scheduleIdPipe) scheduleId: string, @Actor() actor: string): Promise<void> {
    await this.schedules.delete(scheduleId, actor);
  }
}
