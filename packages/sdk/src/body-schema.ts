/**
 * The Standard Schema interface (standardschema.dev, version 1), as far as the SDK uses it: valibot,
 * zod and arktype schemas implement it, so any of them checks message bodies without the SDK
 * depending on one. Declared here, not imported: the interface is a spec, not a package.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** A schema's answer: the (possibly transformed) value, or why it does not fit. */
export type StandardResult<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** The body type a schema checks for. */
export type SchemaOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];

/** The issues of a body whose schema answered with a Promise: bodies are checked synchronously, to keep the view in order. */
export const ASYNC_SCHEMA_ISSUES: readonly StandardIssue[] = [{ message: 'the schema is asynchronous: message bodies are checked synchronously' }];

/**
 * Checks `body` with `schema`, synchronously. A schema answering a Promise is a programmer error:
 * the body counts as invalid with {@link ASYNC_SCHEMA_ISSUES} (never awaited: order is kept).
 */
export function checkBody(schema: StandardSchemaV1, body: unknown): { value: unknown; issues?: undefined } | { issues: readonly StandardIssue[] } {
  const result = schema['~standard'].validate(body);
  if (result instanceof Promise) {
    result.catch(() => {});
    return { issues: ASYNC_SCHEMA_ISSUES };
  }
  return result.issues ? { issues: result.issues } : { value: result.value };
}
