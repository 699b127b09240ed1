/**
 * Synapse's Admin API serialises room events in its default client format ("v1"): the client
 * event plus, at the top level, `user_id` (the sender) and copies of `age`, `replaces_state`,
 * `prev_content` and `redacted_because` from `unsigned` (Synapse 1.94's `/rooms/<id>/state`
 * answer shows them). Clients that read either place keep working.
 */
export function legacyClientEvent(ev: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ev };
  if (typeof ev.sender === 'string') out.user_id = ev.sender;
  const unsigned = ev.unsigned as Record<string, unknown> | undefined;
  if (unsigned) for (const k of ['age', 'redacted_because', 'replaces_state', 'prev_content']) if (k in unsigned) out[k] = unsigned[k];
  return out;
}

const mapList = (v: unknown) => (Array.isArray(v) ? v.map((e) => legacyClientEvent(e as Record<string, unknown>)) : v);

/** /messages: every event of `chunk` and `state` in the legacy format. */
export function legacyMessages(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body, chunk: mapList(body.chunk) };
  if ('state' in body) out.state = mapList(body.state);
  return out;
}

/** /context: the event, the events around it and the state, in the legacy format. */
export function legacyContext(body: Record<string, unknown>): Record<string, unknown> {
  return {
    ...body,
    event: body.event ? legacyClientEvent(body.event as Record<string, unknown>) : body.event,
    events_before: mapList(body.events_before),
    events_after: mapList(body.events_after),
    state: mapList(body.state),
  };
}
