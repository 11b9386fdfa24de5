import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IS_PUBLIC = 'tasklane:public';

/** OpenAPI extension marking public operations; the document builder turns it into `security: []`. */
export const PUBLIC_OPERATION_EXTENSION = 'x-tasklane-public';

/**
 * Marks a controller or a handler as open to every caller, API keys or not (health probes,
 * metrics). Everything else needs a key once keys are configured.
 */
export const Public = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_OPERATION_EXTENSION, true));
