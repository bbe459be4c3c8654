import { Validator, type Schema } from '@cfworker/json-schema';
import { Capability, ErrorKind, isAllowed, wireError, type RoomGrant, type WireError } from '@partyline/protocol';
import { parseJsonText } from './api-json.js';

/**
 * Body schemas by room pattern and message type, as an operator writes them (`--body-schemas`):
 * `{ "party:*": { "chat": <JSON Schema>, "*": <JSON Schema for every other type> } }`. Room patterns
 * follow the token grants' rule: an exact name, or a prefix ending in `*`.
 */
export type BodySchemaMap = Record<string, Record<string, Schema | boolean>>;

/** A body schema file that cannot be used; the message says where. */
export class BodySchemaError extends Error {
  override readonly name = 'BodySchemaError';
}

const TYPE_NAMES = new Set(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);
/** Keywords whose value is a schema, a list of schemas, or a map of them (draft 2020-12 and 7). */
const SCHEMA_KEYWORDS = ['additionalItems', 'unevaluatedItems', 'contains', 'additionalProperties', 'unevaluatedProperties', 'propertyNames', 'not', 'if', 'then', 'else'];
const SCHEMA_LIST_KEYWORDS = ['prefixItems', 'items', 'allOf', 'anyOf', 'oneOf'];
const SCHEMA_MAP_KEYWORDS = ['$defs', 'definitions', 'properties', 'patternProperties', 'dependentSchemas'];

interface RoomRule {
  pattern: string;
  /** The pattern as a grant, so protocol's matcher decides which rooms it covers. */
  grants: RoomGrant[];
  byType: Map<string, { location: string; validator: Validator }>;
}

/**
 * Compiled body schemas (JSON Schema 2020-12, by @cfworker/json-schema: an interpreter, no `eval` or
 * `new Function`). A message's body is checked against the most specific matching room pattern (an
 * exact name, else the longest prefix): its schema for the message's type, else its `*` schema, else
 * nothing. Only bodies of rooms with a schema are parsed, depth-checked first.
 */
export class BodySchemas {
  private constructor(private readonly rules: RoomRule[]) {}

  /** Checks and compiles a map (a file's parsed JSON); throws BodySchemaError naming what is wrong. */
  static compile(map: BodySchemaMap): BodySchemas {
    // Checked as unknown: it usually comes straight from a file.
    if (!isRecord(map as unknown)) throw new BodySchemaError('expected an object of room patterns, each an object of message types ("*" for any) to JSON Schemas');
    const rules = Object.entries(map).map(([pattern, types]): RoomRule => {
      if (!/^[A-Za-z0-9_.:*-]{1,129}$/.test(pattern) || pattern.slice(0, -1).includes('*')) {
        throw new BodySchemaError(`room pattern ${JSON.stringify(pattern)}: an exact room name or a prefix ending in *`);
      }
      if (!isRecord(types)) throw new BodySchemaError(`${pattern}: expected an object of message types ("*" for any) to JSON Schemas`);
      const byType = new Map<string, { location: string; validator: Validator }>();
      for (const [type, schema] of Object.entries(types)) {
        const location = `${pattern} → ${type}`;
        checkSchema(schema, location);
        let validator: Validator;
        try {
          validator = new Validator(schema as Schema | boolean, '2020-12', true);
          // Unresolvable references show on first use: use it once here rather than on a publish.
          for (const probe of [null, 0, '', [], {}]) validator.validate(probe);
        } catch (error) {
          throw new BodySchemaError(`${location}: ${(error as Error).message.split('\n')[0]}`);
        }
        byType.set(type, { location, validator });
      }
      return { pattern, grants: [{ room: pattern, can: [Capability.Publish] }], byType };
    });
    // Most specific first: exact names, then longer prefixes.
    rules.sort((a, b) => Number(a.pattern.endsWith('*')) - Number(b.pattern.endsWith('*')) || b.pattern.length - a.pattern.length);
    return new BodySchemas(rules);
  }

  /** Whether any schema applies in `room` (an edit there is checked against its message's type). */
  covers(room: string): boolean {
    return this.rules.some((candidate) => isAllowed(candidate.grants, room, Capability.Publish));
  }

  /** Why this body may not be published in `room` as `type` (a `bad_request`), or undefined when it may. */
  check(room: string, type: string, body: string): WireError | undefined {
    const rule = this.rules.find((candidate) => isAllowed(candidate.grants, room, Capability.Publish));
    const schema = rule && (rule.byType.get(type) ?? rule.byType.get('*'));
    if (!schema) return undefined;
    const parsed = parseJsonText(body);
    if (!parsed.ok) return wireError(ErrorKind.BadRequest, `body ${parsed.problem} (room ${room} checks ${type} bodies against ${schema.location})`);
    const { valid, errors } = schema.validator.validate(parsed.value);
    if (valid) return undefined;
    // The deepest error names the path that failed; the ones before it are the branches leading there.
    const failed = errors.at(-1)!;
    return wireError(ErrorKind.BadRequest, `body does not match the schema ${schema.location} at ${failed.instanceLocation.replace(/^#/, '') || '/'}: ${failed.error}`);
  }
}

/** Schemas fail at startup, not on a publish: every subschema an object or boolean, known type names, patterns that compile. */
function checkSchema(schema: unknown, location: string): void {
  if (typeof schema === 'boolean') return;
  if (!isRecord(schema)) throw new BodySchemaError(`${location}: a JSON Schema is an object or a boolean`);
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  for (const type of types) if (typeof type !== 'string' || !TYPE_NAMES.has(type)) throw new BodySchemaError(`${location}/type: unknown type ${JSON.stringify(type)}`);
  const patterns = [...(schema.pattern !== undefined ? [schema.pattern] : []), ...Object.keys(isRecord(schema.patternProperties) ? schema.patternProperties : {})];
  for (const pattern of patterns) {
    try {
      new RegExp(String(pattern), 'u');
    } catch (error) {
      throw new BodySchemaError(`${location}: pattern ${JSON.stringify(pattern)}: ${(error as Error).message}`);
    }
  }
  for (const keyword of SCHEMA_KEYWORDS) if (keyword in schema) checkSchema(schema[keyword], `${location}/${keyword}`);
  for (const keyword of SCHEMA_LIST_KEYWORDS) {
    const value = schema[keyword];
    if (Array.isArray(value)) value.forEach((item, index) => checkSchema(item, `${location}/${keyword}/${index}`));
    else if (keyword === 'items' && value !== undefined) checkSchema(value, `${location}/items`);
    else if (value !== undefined) throw new BodySchemaError(`${location}/${keyword}: expected a list of schemas`);
  }
  for (const keyword of SCHEMA_MAP_KEYWORDS) {
    const value = schema[keyword];
    if (value === undefined) continue;
    if (!isRecord(value)) throw new BodySchemaError(`${location}/${keyword}: expected an object of schemas`);
    for (const [name, item] of Object.entries(value)) checkSchema(item, `${location}/${keyword}/${name}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
