import { applyDecorators } from '@nestjs/common';
import { ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { SchemaName, schemaRef } from './openapi.schemas';

/** One optional query parameter per property of a query DTO's schema. */
export function ApiQueryFrom(schema: SchemaObject): MethodDecorator {
  const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
  return applyDecorators(
    ...Object.entries(properties).map(([name, property]) => ApiQuery({ name, required: false, schema: property })),
  );
}

/** The JSON error responses an endpoint can give. */
export function ApiErrors(...statuses: number[]): MethodDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, schema: schemaRef(SchemaName.ErrorBody) })));
}
