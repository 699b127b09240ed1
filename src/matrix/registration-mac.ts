import { createHmac } from 'node:crypto';

/**
 * Synapse's shared-secret registration MAC (catalogue §4.2): lowercase-hex HMAC-SHA1, keyed with
 * the secret, over NUL-joined nonce, username, password, "admin"/"notadmin" and, only when a user
 * type is given, the user type. Shared by the server and `register_new_matrix_user`.
 */
export function registrationMac(secret: string, nonce: string, user: string, password: string, admin: boolean, userType?: string | null): string {
  const h = createHmac('sha1', Buffer.from(secret, 'utf8'));
  const parts = [nonce, user, password, admin ? 'admin' : 'notadmin'];
  if (userType) parts.push(userType);
  h.update(Buffer.from(parts.join('\u0000'), 'utf8'));
  return h.digest('hex');
}
