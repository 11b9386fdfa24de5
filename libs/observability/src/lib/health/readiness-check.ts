import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';

/** One dependency a process needs to do its work (the broker, the database, its consumer). */
export interface ReadinessCheck {
  readonly name: string;
  isReady(): Promise<boolean> | boolean;
}

export const READINESS_CHECK = Symbol('tasklane:readiness-check');

/**
 * Marks a provider as a readiness check: the module that owns a dependency provides its check,
 * and every app that imports that module reports it at `/health/ready`.
 */
export function ProvidesReadiness(): ClassDecorator {
  return applyDecorators(Injectable(), SetMetadata(READINESS_CHECK, true));
}
