import { IsISO8601, Matches } from 'class-validator';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An ISO-8601 date-time with an explicit time zone (`2026-01-31T12:00:00Z`,
 * `2026-01-31T13:00:00.250+01:00`): the forms every component reads the same way. Week and
 * ordinal dates, compact forms and zone-less times are refused.
 */
export function IsIsoTimestamp(): PropertyDecorator {
  return (target, property) => {
    Matches(TIMESTAMP, {
      message: '$property must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z',
    })(target, property);
    IsISO8601({ strict: true }, { message: '$property must be a valid date-time' })(target, property);
  };
}
