import { BadRequestException, ValidationError } from '@nestjs/common';
import { FieldError, flattenValidationErrors } from '@tasklane/contracts';

/** The body of every 400: which fields are wrong and why. */
export function invalidRequest(errors: FieldError[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: `Invalid request: ${[...new Set(errors.map((error) => error.field))].join(', ')}`,
    errors,
  });
}

/** `exceptionFactory` for Nest's ValidationPipe, producing the same body. */
export function validationExceptionFactory(errors: ValidationError[]): BadRequestException {
  return invalidRequest(flattenValidationErrors(errors));
}
