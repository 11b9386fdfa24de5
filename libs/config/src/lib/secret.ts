const SECRET = 'tasklane:config-secret';

/**
 * Marks a config property as a secret: when it fails validation, the error names the variable
 * but never shows its value (credentials must not end up in logs).
 */
export function Secret(): PropertyDecorator {
  return (target, property) => {
    Reflect.defineMetadata(SECRET, true, target, property);
  };
}

/** Whether `property` of the config class `schema` (or of a class it extends) is a {@link Secret}. */
export function isSecretProperty(schema: new () => object, property: string): boolean {
  return Reflect.getMetadata(SECRET, schema.prototype as object, property) === true;
}
