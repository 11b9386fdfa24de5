/** Secret properties by the prototype of the config class that declares them. */
const SECRET_PROPERTIES = new WeakMap<object, Set<string | symbol>>();

/**
 * Marks a config property as a secret: when it fails validation, the error names the variable
 * but never shows its value (credentials must not end up in logs).
 */
export function Secret(): PropertyDecorator {
  return (target, property) => {
    const properties = SECRET_PROPERTIES.get(target) ?? new Set<string | symbol>();
    properties.add(property);
    SECRET_PROPERTIES.set(target, properties);
  };
}

/** Whether `property` of the config class `schema` (or of a class it extends) is a {@link Secret}. */
export function isSecretProperty(schema: new () => object, property: string): boolean {
  for (
    let prototype: object | null = schema.prototype as object;
    prototype;
    prototype = Object.getPrototypeOf(prototype) as object | null
  ) {
    if (SECRET_PROPERTIES.get(prototype)?.has(property)) {
      return true;
    }
  }
  return false;
}
