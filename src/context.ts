import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { newSigningKeyLine, parseSigningKey, type SigningKey } from './matrix/signing-key.js';
import { AccountsService } from './services/accounts.js';
import { AdminUsersService } from './services/admin-users.js';
import { AuthService } from './services/auth.js';
import { ClientIpsService } from './services/client-ips.js';
import { LoginService } from './services/login.js';
import { Passwords } from './services/passwords.js';
import { RateLimits } from './services/ratelimit.js';
import { SharedSecretRegistration } from './services/shared-secret.js';
import { UserInteractiveAuth } from './services/uia.js';
import { openStorage, type Storage } from './storage/database.js';
import { migrate } from './storage/migrations/index.js';
import { ReadCache } from './storage/read-cache.js';

export interface Services {
  auth: AuthService;
  accounts: AccountsService;
  adminUsers: AdminUsersService;
  sharedSecret: SharedSecretRegistration;
  logins: LoginService;
  uia: UserInteractiveAuth;
  /** In-memory rate limiters (rc_login, rc_registration, rc_message). */
  ratelimits: RateLimits;
  /** Client IP / user-agent sightings, buffered in memory and flushed every few seconds. */
  clientIps: ClientIpsService;
}

/** The composition root: configuration, logger, storage and the services built on them. */
export interface Context {
  config: Config;
  log: Logger;
  storage: Storage;
  signingKey: SigningKey;
  services: Services;
  close(): Promise<void>;
}

export interface ContextOptions {
  log?: Logger;
  /** Storage opened by the caller (tests); otherwise opened from the config. */
  storage?: Storage;
  /** Signing key text; otherwise read from `signing_key_path`. */
  signingKeyText?: string;
}

function loadSigningKey(config: Config, text: string | undefined): SigningKey {
  if (text !== undefined) return parseSigningKey(text);
  try {
    return parseSigningKey(readFileSync(config.signingKeyPath, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`signing key file not found: ${config.signingKeyPath}`);
    throw e;
  }
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<Context> {
  const log = opts.log ?? pino({ level: process.env.AXON_LOG_LEVEL ?? 'info' });
  const signingKey = loadSigningKey(config, opts.signingKeyText);
  const storage = opts.storage ?? (await openStorage(config.database));
  await migrate(storage.db, storage.dialect);

  const db = storage.db;
  const passwords = new Passwords(config.bcryptRounds, config.password);
  const accounts = new AccountsService(db, config, passwords);
  const services: Services = {
    auth: new AuthService(db, { accountValidity: config.accountValidity.enabled, cache: new ReadCache(storage) }),
    accounts,
    adminUsers: new AdminUsersService(db, config, accounts, new ReadCache(storage)),
    sharedSecret: new SharedSecretRegistration(config.registrationSharedSecret, accounts),
    logins: new LoginService(db, accounts),
    uia: new UserInteractiveAuth(accounts),
    ratelimits: new RateLimits(db, config.rateLimits, config.serverName),
    clientIps: new ClientIpsService(db, log),
  };
  services.clientIps.start();
  const close = async () => {
    // Pending client IPs are written before the database goes away.
    await services.clientIps.close();
    await storage.close();
  };
  return { config, log, storage, signingKey, services, close };
}

/** A fresh signing key, for tests and first starts. */
export const generateSigningKeyText = newSigningKeyLine;
