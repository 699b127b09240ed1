import { Type } from '@sinclair/typebox';

/**
 * Bodies of the typing, presence and room-tag routes. They describe; the services check them with
 * Synapse's texts and order (typing, then presence's "Unable to parse state").
 */

export const typingBody = Type.Object({ typing: Type.Boolean(), timeout: Type.Optional(Type.Integer({ minimum: 0 })) });

export const presenceBody = Type.Object({
  presence: Type.Union([Type.Literal('online'), Type.Literal('unavailable'), Type.Literal('offline')]),
  status_msg: Type.Optional(Type.String()),
});

/** A tag's content: any JSON object, `order` (a number in [0, 1] by the spec) stored as given, as Synapse. */
export const tagBody = Type.Object({ order: Type.Optional(Type.Number()) });
