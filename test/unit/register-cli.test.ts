import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findClientListener } from '../../src/cli/register-new-matrix-user.js';
import { registrationMac } from '../../src/matrix/registration-mac.js';

describe("register_new_matrix_user's listener discovery (Synapse's _find_client_listener)", () => {
  it('takes the first type:http, non-TLS listener with a client resource, ignoring bind addresses', () => {
    const config = {
      listeners: [
        { port: 9000, type: 'metrics', resources: [{ names: ['client'] }] },
        { port: 8448, type: 'http', tls: true, resources: [{ names: ['client'] }] },
        { port: 8009, type: 'http', resources: [{ names: ['federation'] }] },
        { port: 8010, type: 'http', bind_addresses: ['10.0.0.1'], resources: [{ names: ['federation'] }, { names: ['client', 'media'] }] },
        { port: 8011, type: 'http', resources: [{ names: ['client'] }] },
      ],
    };
    expect(findClientListener(config)).toBe('http://localhost:8010');
  });

  it('prefers the listener serving `admin` when one declares it (the Admin API is only there then)', () => {
    const config = {
      listeners: [
        { port: 8008, type: 'http', resources: [{ names: ['client', 'federation'] }] },
        { port: 8448, type: 'http', tls: true, resources: [{ names: ['admin'] }] },
        { port: 9008, type: 'http', bind_addresses: ['127.0.0.1'], resources: [{ names: ['admin'] }] },
      ],
    };
    expect(findClientListener(config)).toBe('http://localhost:9008');
    // An admin listener only reachable over TLS: nothing the script can use.
    expect(findClientListener({ listeners: [config.listeners[0], config.listeners[1]] })).toBeNull();
  });

  it('returns null when there is no suitable listener, or no listeners at all', () => {
    expect(findClientListener({})).toBeNull();
    expect(findClientListener({ listeners: [] })).toBeNull();
    expect(findClientListener({ listeners: [{ port: 8008, resources: [{ names: ['client'] }] }] })).toBeNull(); // no type
    expect(findClientListener({ listeners: 'nonsense' })).toBeNull();
  });
});

describe('registration MAC (catalogue §4.2)', () => {
  const reference = (parts: string[]) => createHmac('sha1', 'shared').update(parts.join('\0')).digest('hex');

  it('is HMAC-SHA1 over NUL-joined fields; the user type only when given', () => {
    expect(registrationMac('shared', 'n1', 'alice', 'pw', true)).toBe(reference(['n1', 'alice', 'pw', 'admin']));
    expect(registrationMac('shared', 'n1', 'alice', 'pw', false, null)).toBe(reference(['n1', 'alice', 'pw', 'notadmin']));
    expect(registrationMac('shared', 'n1', 'alice', 'pw', false, '')).toBe(reference(['n1', 'alice', 'pw', 'notadmin']));
    expect(registrationMac('shared', 'n1', 'alice', 'pw', false, 'bot')).toBe(reference(['n1', 'alice', 'pw', 'notadmin', 'bot']));
    expect(registrationMac('shared', 'n1', 'Ålice', 'pässword', false)).toBe(reference(['n1', 'Ålice', 'pässword', 'notadmin']));
  });
});
