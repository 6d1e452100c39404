// Picks the auth protocol (Distribution's rules: `authversion`, else from the URL) and keeps one
// token for the whole process: reused while valid, refreshed shortly before it expires, and
// renewed when Swift answers 401 (see MAX_RENEWALS). Concurrent callers share one auth round trip.
import { authenticateV1 } from './auth-v1.js';
import { authenticateV2, authenticateV3 } from './auth-keystone.js';
import { SwiftAuthError } from './errors.js';
import type { HttpAgents } from './http.js';
import type { AuthVersion, SwiftOptions } from './swift-options.js';

export interface SwiftSession {
  token: string;
  storageUrl: string;
  /** Epoch ms; undefined when the service does not say. */
  expiresAt?: number;
}

/**
 * A 401 renews the token at most this often per request. Keystone's revocation events have a
 * one-second resolution: right after a password change or a revocation, a token issued within that
 * second is refused too, so every renewal after the first waits SECOND_RENEWAL_DELAY_MS. Measured
 * here: a Swift proxy behind Keystone can refuse fresh tokens for a further second or two after a
 * revocation (three in a row over 2.2 s seen in CI), so four renewals (≤ 3.3 s of waiting)
 * before a 401 reaches the client.
 */
export const MAX_RENEWALS = 4;
export const SECOND_RENEWAL_DELAY_MS = 1100;

/** Refresh this long before the announced expiry, so a request never carries a dying token. */
const REFRESH_MARGIN_MS = 60_000;

export function detectAuthVersion(o: SwiftOptions): AuthVersion {
  if (o.authVersion) return o.authVersion;
  const url = o.authUrl ?? '';
  if (/\/v3\/?$/.test(url) || url.includes('/v3/')) return 3;
  if (/\/v2(\.0)?\/?$/.test(url) || url.includes('/v2.0/')) return 2;
  return 1;
}

export class TokenSource {
  #session: SwiftSession | undefined;
  #pending: Promise<SwiftSession> | undefined;
  #margin = REFRESH_MARGIN_MS;
  /** How many times credentials were exchanged for a token (tests and metrics). */
  authCount = 0;

  constructor(
    private readonly options: SwiftOptions,
    private readonly agents: HttpAgents,
  ) {
    if (options.storageUrl && options.authToken) {
      this.#session = { token: options.authToken, storageUrl: options.storageUrl };
    }
  }

  get canReauthenticate(): boolean {
    return this.options.authUrl !== undefined;
  }

  /** A valid session, authenticating when there is none or it is about to expire. */
  async session(): Promise<SwiftSession> {
    const s = this.#session;
    if (s && (s.expiresAt === undefined || s.expiresAt - this.#margin > Date.now())) return s;
    if (s && !this.canReauthenticate) return s;
    return this.#authenticate();
  }

  /** Swift refused `rejected` (401): drop it and authenticate again (once for all callers). */
  async renew(rejected: SwiftSession): Promise<SwiftSession> {
    if (!this.canReauthenticate) throw new SwiftAuthError('Swift refused the configured authtoken and no authurl is configured to get a new one', 401);
    if (this.#session && this.#session !== rejected) return this.#session;
    this.#session = undefined;
    return this.#authenticate();
  }

  #authenticate(): Promise<SwiftSession> {
    if (!this.#pending) {
      this.#pending = this.#exchange()
        .then((session) => {
          // A pre-configured storageurl wins over the catalog's (Distribution's rule).
          if (this.options.storageUrl) session = { ...session, storageUrl: this.options.storageUrl };
          // Refresh a minute early, or a quarter of the lifetime early for short-lived tokens (a
          // request that waits behind a busy identity service must still carry a live token).
          this.#margin = session.expiresAt === undefined ? 0 : Math.min(REFRESH_MARGIN_MS, Math.max(0, session.expiresAt - Date.now()) / 4);
          this.#session = session;
          return session;
        })
        .finally(() => {
          this.#pending = undefined;
        });
    }
    return this.#pending;
  }

  #exchange(): Promise<SwiftSession> {
    const o = this.options;
    this.authCount++;
    switch (detectAuthVersion(o)) {
      case 1:
        return authenticateV1(o.authUrl!, o.username ?? '', o.password ?? '', this.agents);
      case 2:
        return authenticateV2(o, this.agents);
      case 3:
        return authenticateV3(o, this.agents);
    }
  }
}
