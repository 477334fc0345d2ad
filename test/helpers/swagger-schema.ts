/**
 * A validator for the part of JSON Schema that Cloud Manager's Swagger 2.0 definitions use (type, properties,
 * required, items, enum, format date-time, and `$ref` to `#/definitions/...`, whose siblings Swagger ignores).
 * Extra properties are allowed, as the definitions allow them; what is missing or mistyped is a violation.
 */
type Schema = {
  $ref?: string; type?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema; enum?: unknown[]; format?: string;
};

export type Definitions = Record<string, Schema>;

const typeOk: Record<string, (v: unknown) => boolean> = {
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  integer: Number.isInteger,
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
};

/** The violations of `value` against `definitions[name]`, each as `<path>: <what>`; empty when it conforms. */
export function violations(definitions: Definitions, name: string, value: unknown): string[] {
  const found: string[] = [];
  const check = (schema: Schema, v: unknown, at: string, seen: number): void => {
    if (schema.$ref) {
      const target = definitions[schema.$ref.replace('#/definitions/', '')];
      if (!target) found.push(`${at}: unknown $ref ${schema.$ref}`);
      else if (seen < 20) check(target, v, at, seen + 1);
      return;
    }
    if (schema.type && typeOk[schema.type] && !typeOk[schema.type](v)) {
      found.push(`${at}: expected ${schema.type}, got ${JSON.stringify(v)}`);
      return;
    }
    if (schema.enum && !schema.enum.includes(v)) found.push(`${at}: ${JSON.stringify(v)} is not one of ${schema.enum.join(', ')}`);
    if (schema.format === 'date-time' && typeof v === 'string' && Number.isNaN(Date.parse(v))) found.push(`${at}: not a date-time: ${v}`);
    if (typeOk.object(v)) {
      const obj = v as Record<string, unknown>;
      for (const key of schema.required ?? []) if (obj[key] === undefined) found.push(`${at}.${key}: missing (required)`);
      for (const [key, sub] of Object.entries(schema.properties ?? {})) if (obj[key] !== undefined) check(sub, obj[key], `${at}.${key}`, seen);
    }
    if (Array.isArray(v) && schema.items) v.forEach((item, i) => check(schema.items!, item, `${at}[${i}]`, seen));
  };
  if (!definitions[name]) return [`no definition ${name}`];
  check(definitions[name], value, name, 0);
  return found;
}
