// The web page's login sessions: a cookie that stands for the user's Basic credentials, so the
// page can log in with a form and log out.
//
//   - The cookie is `__Host-` prefixed, HttpOnly, Secure, SameSite=Strict, Path=/, and lives
//     `ttlMs` (short; the page renews it when it is past half its life).
//   - Its value is a small JSON payload and an HMAC-SHA256 of it under a key nobody configures: one
//     kept in storage so every replica accepts every other's cookies (shared-secret.ts), or, in
//     front of an upstream, one per process.
//   - It carries a keyed digest of the user's htpasswd hash (a "stamp"), checked on every request
//     against the live users file: removing the user or changing their password ends their sessions
//     as soon as the file is reloaded, as it ends their Basic auth.
//   - Logout ends the session in this process (the cookie is cleared in the browser too). Other
//     replicas keep accepting a copy of the cookie until it expires: nothing per-session is stored.
//   - Requests that change something must also carry the session's CSRF token (a header a page on
//     another site cannot set); SameSite=Strict and the cross-site step already keep other sites'
//     requests from carrying the cookie at all.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';

export const SESSION_COOKIE = '__Host-regate-session';
/** The header the page sends its CSRF token in. */
export const CSRF_HEADER = 'x-regate-csrf';

export interface SessionKey {
  get(): Promise<Buffer>;
  /** Reads the key again where it is shared (another replica may have replaced it); true when it changed. */
  refresh(): Promise<boolean>;
}

/** The live users file as sessions need it. */
export interface SessionUsers {
  hashOf(user: string): string | undefined;
}

export interface Session {
  user: string;
  id: string;
  expiresAt: number;
  /** What a state-changing request must carry in CSRF_HEADER. */
  csrf: string;
}

interface Payload {
  u: string;
  i: string;
  e: number;
  s: string;
}

export interface WebSessionsOptions {
  key: SessionKey;
  users: SessionUsers;
  ttlMs: number;
  now?: () => number;
}

const b64 = (data: Buffer): string => data.toString('base64url');

/** A per-process key, for where nothing is shared (upstream mode, read-only storage). */
export function processSessionKey(): SessionKey {
  const key = randomBytes(32);
  return { get: async () => key, refresh: async () => false };
}

export class WebSessions {
  private readonly revoked = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: WebSessionsOptions) {
    this.now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** A new session for a user whose credentials were just checked; undefined if they are no longer in the file. */
  async issue(user: string): Promise<{ session: Session; cookie: string } | undefined> {
    const hash = this.options.users.hashOf(user);
    if (hash === undefined) return undefined;
    const key = await this.options.key.get();
    const payload: Payload = { u: user, i: b64(randomBytes(16)), e: this.now() + this.options.ttlMs, s: stamp(key, user, hash) };
    const body = b64(Buffer.from(JSON.stringify(payload)));
    const value = `${body}.${b64(mac(key, 'session', body))}`;
    const cookie = serializeCookie(SESSION_COOKIE, value, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: Math.floor(this.options.ttlMs / 1000) });
    return { session: sessionOf(key, payload), cookie };
  }

  /** The session a request's Cookie header carries, if it is valid now. */
  async fromCookieHeader(header: string | undefined): Promise<Session | undefined> {
    if (!header) return undefined;
    const value = parseCookies(header)[SESSION_COOKIE];
    if (!value) return undefined;
    const [body, signature, extra] = value.split('.');
    if (!body || !signature || extra !== undefined) return undefined;
    let key = await this.options.key.get();
    if (!signedBy(key, body, signature)) {
      // Signed with a key another replica wrote after this one read its own? Look once more.
      if (!(await this.options.key.refresh().catch(() => false))) return undefined;
      key = await this.options.key.get();
      if (!signedBy(key, body, signature)) return undefined;
    }
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return undefined;
    }
    if (typeof payload.u !== 'string' || typeof payload.i !== 'string' || typeof payload.e !== 'number' || typeof payload.s !== 'string') return undefined;
    if (payload.e <= this.now() || this.revoked.has(payload.i)) return undefined;
    const hash = this.options.users.hashOf(payload.u);
    if (hash === undefined || stamp(key, payload.u, hash) !== payload.s) return undefined;
    return sessionOf(key, payload);
  }

  /** Ends a session here (logout). */
  revoke(session: Session): void {
    const now = this.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
    this.revoked.set(session.id, session.expiresAt);
  }

  /** The Set-Cookie that removes the cookie from the browser. */
  clearCookie(): string {
    return serializeCookie(SESSION_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: 0 });
  }

  /** Is the header's token the session's? */
  static csrfMatches(session: Session, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const given = Buffer.from(header);
    const expected = Buffer.from(session.csrf);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function mac(key: Buffer, purpose: string, data: string): Buffer {
  return createHmac('sha256', key).update(`regate-${purpose}\0${data}`, 'utf8').digest();
}

function signedBy(key: Buffer, body: string, signature: string): boolean {
  const expected = mac(key, 'session', body);
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function stamp(key: Buffer, user: string, hash: string): string {
  return b64(mac(key, 'stamp', `${user}\0${hash}`).subarray(0, 16));
}

function sessionOf(key: Buffer, payload: Payload): Session {
  return { user: payload.u, id: payload.i, expiresAt: payload.e, csrf: b64(mac(key, 'csrf', payload.i)) };
}
