// The web page's login sessions: a cookie that stands for the user's Basic credentials, so the
// page can log in with a form and log out.
//
//   - The cookie is `__Host-` prefixed, HttpOnly, Secure, SameSite=Strict, Path=/, and lives
//     `ttlMs` (short; the page renews it when it is past half its life), never longer than
//     MAX_SIGN_IN_MS after the sign-in it came from: renewing cannot keep a copy alive for ever.
//   - Its value is a small JSON payload and an HMAC-SHA256 of it under a key nobody configures: one
//     kept in storage so every replica accepts every other's cookies (shared-secret.ts), or, in
//     front of an upstream, one per process.
//   - It carries a keyed digest of the user's htpasswd hash (a "stamp"), checked on every request
//     against the live users file: removing the user or changing their password ends their sessions
//     as soon as the file is reloaded, as it ends their Basic auth.
//   - Logout ends the sign-in, with every cookie renewed from it, on every replica: its id goes on a
//     revocation list in storage (revocation-list.ts; per process in front of an upstream), which
//     each replica re-reads at most a second after using it.
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

/** Sign-ins no replica accepts any more (logouts). */
export interface SessionRevocations {
  revoke(signInId: string, untilMs: number): Promise<void>;
  isRevoked(signInId: string): Promise<boolean>;
}

/** The longest a sign-in lasts, however often its cookie is renewed. */
export const MAX_SIGN_IN_MS = 12 * 3_600_000;

export interface Session {
  user: string;
  /** This cookie's own id. */
  id: string;
  /** The sign-in it came from (renewals keep it), and when that was. */
  signInId: string;
  signedInAt: number;
  expiresAt: number;
  /** What a state-changing request must carry in CSRF_HEADER. */
  csrf: string;
}

interface Payload {
  u: string;
  i: string;
  /** The sign-in's id and time. */
  l: string;
  t: number;
  e: number;
  s: string;
}

export interface WebSessionsOptions {
  key: SessionKey;
  users: SessionUsers;
  ttlMs: number;
  /** Shared logouts; a per-process list when absent. */
  revocations?: SessionRevocations;
  now?: () => number;
}

/** Logouts this process alone knows (in front of an upstream, or read-only storage). */
export function processRevocations(now: () => number = Date.now): SessionRevocations {
  const revoked = new Map<string, number>();
  return {
    revoke: async (id, until) => {
      for (const [other, time] of revoked) if (time <= now()) revoked.delete(other);
      revoked.set(id, until);
    },
    isRevoked: async (id) => (revoked.get(id) ?? 0) > now(),
  };
}

const b64 = (data: Buffer): string => data.toString('base64url');

/** A per-process key, for where nothing is shared (upstream mode, read-only storage). */
export function processSessionKey(): SessionKey {
  const key = randomBytes(32);
  return { get: async () => key, refresh: async () => false };
}

export class WebSessions {
  private readonly now: () => number;
  private readonly revocations: SessionRevocations;

  constructor(private readonly options: WebSessionsOptions) {
    this.now = options.now ?? Date.now;
    this.revocations = options.revocations ?? processRevocations(this.now);
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /**
   * A cookie for a user whose credentials were just checked (or, with `renewing`, a fresh cookie of
   * the same sign-in); undefined if they are no longer in the file.
   */
  async issue(user: string, renewing?: Session): Promise<{ session: Session; cookie: string } | undefined> {
    const hash = this.options.users.hashOf(user);
    if (hash === undefined) return undefined;
    const key = await this.options.key.get();
    const now = this.now();
    const signInId = renewing?.signInId ?? b64(randomBytes(16));
    const signedInAt = renewing?.signedInAt ?? now;
    const expiresAt = Math.min(now + this.options.ttlMs, signedInAt + MAX_SIGN_IN_MS);
    const payload: Payload = { u: user, i: b64(randomBytes(16)), l: signInId, t: signedInAt, e: expiresAt, s: stamp(key, user, hash) };
    const body = b64(Buffer.from(JSON.stringify(payload)));
    const value = `${body}.${b64(mac(key, 'session', body))}`;
    const cookie = serializeCookie(SESSION_COOKIE, value, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: Math.max(1, Math.floor((expiresAt - now) / 1000)) });
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
    if (typeof payload.u !== 'string' || typeof payload.i !== 'string' || typeof payload.l !== 'string' || typeof payload.t !== 'number' || typeof payload.e !== 'number' || typeof payload.s !== 'string') return undefined;
    if (payload.e <= this.now() || payload.e > payload.t + MAX_SIGN_IN_MS) return undefined;
    const hash = this.options.users.hashOf(payload.u);
    if (hash === undefined || stamp(key, payload.u, hash) !== payload.s) return undefined;
    if (await this.revocations.isRevoked(payload.l)) return undefined;
    return sessionOf(key, payload);
  }

  /** Ends the sign-in (logout): this cookie, and every other renewed from the same sign-in, everywhere. */
  async revoke(session: Session): Promise<void> {
    await this.revocations.revoke(session.signInId, session.signedInAt + MAX_SIGN_IN_MS);
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
  // The CSRF token is the sign-in's, so a renewal in one tab leaves the other tabs' tokens good.
  return { user: payload.u, id: payload.i, signInId: payload.l, signedInAt: payload.t, expiresAt: payload.e, csrf: b64(mac(key, 'csrf', payload.l)) };
}
