import type { TSchema } from '@sinclair/typebox';
import { firstMismatch } from '../json-schema.js';

/** The first error of a value against the config's TypeBox schema, with TypeBox's paths and messages. */
export interface SchemaError {
  /** JSON pointer of the bad value, e.g. `/listeners/0/port`. */
  path: string;
  message: string;
}

export function firstError(schema: TSchema, value: unknown): SchemaError | undefined {
  const m = firstMismatch(schema, value);
  return m && { path: m.path, message: m.message };
}
