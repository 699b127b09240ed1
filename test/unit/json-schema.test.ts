import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { checkBody, onError } from '../../src/http/body-schema.js';
import { firstMismatch } from '../../src/json-schema.js';

describe('the schema checker shared by the config and request bodies', () => {
  const erase = Type.Object({ erase: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], onError('M_BAD_JSON', "Param 'erase' must be a boolean, if given"))) });

  it('a union carrying an error refuses a value no branch accepts, and accepts each branch', () => {
    expect(() => checkBody(erase, { erase: 'yes' })).toThrow("Param 'erase' must be a boolean, if given");
    for (const ok of [{}, { erase: true }, { erase: null }]) expect(() => checkBody(erase, ok)).not.toThrow();
  });

  it('reports only mismatches under an error in body mode, every mismatch with TypeBox texts otherwise', () => {
    const s = Type.Object({ a: Type.String(), b: Type.Integer(onError('M_INVALID_PARAM', 'b must be an integer')) });
    expect(() => checkBody(s, { a: 1, b: 2 })).not.toThrow();
    expect(() => checkBody(s, { a: 1, b: 'x' })).toThrow('b must be an integer');
    expect(firstMismatch(s, { a: 1, b: 2 })).toEqual({ path: '/a', message: 'Expected string', error: undefined });
    expect(firstMismatch(s, { b: 2 })).toMatchObject({ path: '/a', message: 'Expected required property' });
  });

  it('refuses a keyword it does not implement instead of ignoring it', () => {
    expect(() => firstMismatch(Type.String({ pattern: '^a' }), 'b')).toThrow(/does not support the schema keyword 'pattern'/);
  });
});
