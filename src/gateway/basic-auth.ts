// Basic auth over the htpasswd store: passport with passport-http's BasicStrategy, no sessions.
//
//   - Missing, malformed or wrong credentials, an unknown user or a known user with the wrong
//     password: all get the same 401 (WWW-Authenticate: Basic realm="<realm>", the spec's
//     UNAUTHORIZED envelope). Nothing in the response says which part was wrong; unknown users cost
//     a bcrypt compare too (the store's dummy hash).
//   - Wrong credentials are counted per client address (throttle.ts); over the limit → 429
//     TOOMANYREQUESTS with Retry-After, the credentials not even checked.
//   - The authenticated user is recorded for the access log. Passwords and the Authorization header
//     are never logged.
//
// passport-http's own header parsing splits the decoded credentials on EVERY colon, so a password
// containing ':' would be cut short; RFC 7617 says only the first colon separates user and
// password. The strategy below is BasicStrategy with that parsing done right (and the header
// checked strictly); the challenge, verify plumbing and passport's authenticate() are unchanged.
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import passport from 'passport';
import passportHttp from 'passport-http';
import type { Logger } from '../log/logger.js';
import { RegistryError } from '../registry/errors.js';
import { clientAddressOf, requestState } from './request-state.js';
import { sendError } from '../registry/respond.js';
import { addressKey, AuthThrottle } from './throttle.js';
import { recordAuth } from '../metrics/metrics.js';

const { BasicStrategy } = passportHttp;

/** What Basic auth needs from the users store (HtpasswdStore provides it). Must never throw. */
export interface CredentialChecker {
  verify(user: string, password: string): Promise<boolean>;
}

export interface CredentialCheckOptions {
  store: CredentialChecker;
  throttle: AuthThrottle;
  logger: Logger;
}

export interface BasicAuthOptions {
  realm: string;
  /** The throttled check, shared with the web page's form (throttledCredentialCheck). */
  check: CredentialCheck;
  /** Requests whose 401 carries no WWW-Authenticate challenge. */
  quietChallenge?: (req: IncomingMessage) => boolean;
}

export interface ParsedCredentials {
  user: string;
  password: string;
}

/**
 * Parses an Authorization header as Basic credentials (RFC 7617): scheme case-insensitive, one
 * token68 of base64, user and password split at the FIRST colon, UTF-8. Pure.
 * `undefined` = no usable credentials (absent, another scheme, malformed).
 */
export function parseBasicAuthorization(header: string | undefined): ParsedCredentials | undefined {
  if (header === undefined) return undefined;
  const m = /^[ \t]*basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

interface Failure {
  throttled?: number;
}

type VerifyDone = (err: unknown, user?: Express.User | false, info?: Failure) => void;
type Verify = (req: IncomingMessage, user: string, password: string, done: VerifyDone) => void;

/** passport-http's BasicStrategy with RFC 7617 credential parsing (see the header comment). */
class HtpasswdBasicStrategy extends BasicStrategy {
  constructor(
    private readonly realmName: string,
    private readonly check: Verify,
  ) {
    super({ realm: realmName, passReqToCallback: true }, check);
  }

  override authenticate(req: Request): void {
    const self = this as unknown as passport.StrategyCreatedStatic;
    const challenge = `Basic realm="${this.realmName}"`;
    const credentials = parseBasicAuthorization(req.headers.authorization);
    if (!credentials) {
      recordAuth('missing');
      self.fail(challenge, 401);
      return;
    }
    this.check(req, credentials.user, credentials.password, (err, user, info) => {
      if (err) return self.error(err);
      if (!user) return self.fail(info?.throttled !== undefined ? info : challenge, info?.throttled !== undefined ? 429 : 401);
      self.success(user);
    });
  }
}

/** A realm as it can appear inside the quoted challenge. */
function quotableRealm(realm: string): string {
  return realm.replace(/[\\"\u0000-\u001f\u007f]/g, '');
}

/** What a throttled credential check answers: accepted, refused, or not even checked (throttled). */
export type CheckAnswer = { ok: true } | { ok: false; throttledForSeconds?: number };

/** Checks credentials the way every login here does (Basic auth, the web page's form): throttled per client address. */
export type CredentialCheck = (req: IncomingMessage, user: string, password: string) => Promise<CheckAnswer>;

export function throttledCredentialCheck(options: CredentialCheckOptions): CredentialCheck {
  const throttleKey = randomBytes(32);
  const { store, throttle, logger } = options;
  return async (req, user, password) => {
    const address = addressKey(clientAddressOf(req));
    const credential = createHmac('sha256', throttleKey).update(`${user}\0${password}`, 'utf8').digest('base64');
    const admission = throttle.admit(address, credential);
    if (!admission.ok) {
      recordAuth('throttled');
      return { ok: false, throttledForSeconds: admission.retryAfterSeconds };
    }
    let ok: boolean;
    try {
      ok = await store.verify(user, password);
    } catch (err) {
      throttle.settle(admission.ticket, false);
      throw err;
    }
    if (throttle.settle(admission.ticket, ok)) {
      logger.warn(`auth: too many failed logins from ${address}; refusing its credentials for a while`, { address });
    }
    recordAuth(ok ? 'success' : 'failure');
    return ok ? { ok: true } : { ok: false };
  };
}

/** The 429 every throttled login gets. */
export function throttledError(retryAfterSeconds: number): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', undefined, {
    message: 'too many failed authentication attempts; try again later',
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

export function basicAuth(options: BasicAuthOptions): RequestHandler {
  const realm = quotableRealm(options.realm);
  const challenge = `Basic realm="${realm}"`;
  const { check } = options;

  const verify: Verify = (req, user, password, done) => {
    check(req, user, password).then(
      (answer) => {
        if (answer.ok) done(null, { name: user });
        else done(null, false, answer.throttledForSeconds !== undefined ? { throttled: answer.throttledForSeconds } : undefined);
      },
      (err: unknown) => done(err),
    );
  };

  const authenticator = new passport.Authenticator();
  authenticator.use('basic', new HtpasswdBasicStrategy(realm, verify));

  return (req, res, next) => {
    const handler = authenticator.authenticate('basic', { session: false }, (err: unknown, user: Express.User | false, info: unknown) => {
      if (err) return next(err);
      if (user) {
        requestState(req).user = (user as { name: string }).name;
        return next();
      }
      requestState(req).answeredBy = 'auth';
      const throttled = typeof info === 'object' && info !== null ? (info as Failure).throttled : undefined;
      if (throttled !== undefined) {
        sendError(req, res, throttledError(throttled));
        return;
      }
      // The web page asks without a challenge: a 401 then shows its login form, not the browser's dialog.
      const quiet = options.quietChallenge?.(req) ?? false;
      sendError(req, res, new RegistryError('UNAUTHORIZED', undefined, quiet ? {} : { headers: { 'WWW-Authenticate': challenge } }));
    }) as RequestHandler;
    handler(req, res, next);
  };
}
