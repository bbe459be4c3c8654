/**
 * Checks a value against the JSON Schema subset our OpenAPI document uses (type, required,
 * properties, additionalProperties: false, items, enum, oneOf, $ref, minimum): enough to hold the
 * document to what the relay really answers, without a validator dependency.
 */
type Schema = {
  $ref?: string;
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  items?: Schema;
  enum?: unknown[];
  oneOf?: Schema[];
  minimum?: number;
};

export function schemaProblems(document: object, schema: Schema, value: unknown, path = '$'): string[] {
  if (schema.$ref) {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document);
    return schemaProblems(document, target as Schema, value, path);
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((option) => schemaProblems(document, option, value, path).length === 0).length;
    return matching === 1 ? [] : [`${path}: matches ${matching} of oneOf`];
  }
  const problems: string[] = [];
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
  if (schema.type && !(schema.type === actual || (schema.type === 'number' && actual === 'integer'))) return [`${path}: ${actual}, not ${schema.type}`];
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
  if (actual === 'object' && value) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) problems.push(`${path}.${key}: missing`);
    for (const [key, field] of Object.entries(record)) {
      const property = schema.properties?.[key];
      if (property) problems.push(...schemaProblems(document, property, field, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${key}: not documented`);
    }
  }
  if (actual === 'array' && schema.items) (value as unknown[]).forEach((item, i) => problems.push(...schemaProblems(document, schema.items!, item, `${path}[${i}]`)));
  return problems;
}
