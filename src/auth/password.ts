// Password hashes: verify bcrypt ($2a$ / $2b$ / $2y$) and the legacy formats found in nginx-era
// htpasswd files ($apr1$ Apache MD5, {SHA} base64 SHA-1); hash new passwords with bcrypt.
//
// Passwords are taken as UTF-8 bytes everywhere, as Apache's htpasswd, Go's x/crypto/bcrypt and
// bcryptjs do. bcrypt uses at most the first 72 bytes of a password (every implementation).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { classifyHash } from './htpasswd-file.js';

// apache-md5 is CommonJS without type declarations: (password, salt?) => "$apr1$salt$hash".
const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt?: string) => string;

export interface VerifyResult {
  ok: boolean;
  /** Set when the password matched a legacy (non-bcrypt) hash: the caller should warn. */
  legacy?: 'apr1' | 'sha';
}

export const DEFAULT_BCRYPT_COST = 10;
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 31;
/** bcrypt ignores everything after the first 72 bytes of a password. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;
/**
 * Longer passwords are refused without hashing: Apache MD5 hashes the password 1000+ times, so an
 * unbounded one would be a cheap way to burn CPU. (The gateway's header limit is lower anyway.)
 */
export const MAX_PASSWORD_BYTES = 4096;

/**
 * A cost-10 bcrypt hash of a random password nobody knows, for the unknown-user compare: a user who
 * does not exist costs the same bcrypt work as one who does. The result of that compare is ignored.
 */
export const DUMMY_BCRYPT_HASH = '$2b$10$U7lB3NAST4da9hSvU5oLTukQPC0bA4DqDiPkqUFlvBE/FJHH/QS2u';

/** Checks `password` against an htpasswd hash. Unknown or refused formats (plaintext …) → ok:false. */
export async function verifyPassword(password: string, hash: string): Promise<VerifyResult> {
  if (typeof password !== 'string' || typeof hash !== 'string') return { ok: false };
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return { ok: false };
  const format = classifyHash(hash);
  if ('error' in format) return { ok: false };
  switch (format.kind) {
    case 'bcrypt':
      // bcryptjs 3 reads $2a$, $2b$ and $2y$ itself (the three differ only in how old, buggy
      // implementations treated long or 8-bit passwords) and compares in constant time.
      return { ok: await bcrypt.compare(password, hash) };
    case 'apr1': {
      // apache-md5 hashes strings through the 'ascii'/'binary' encodings: hand it the password's
      // UTF-8 bytes as a binary string so non-ASCII passwords hash as Apache's htpasswd does.
      const computed = apacheMd5(Buffer.from(password, 'utf8').toString('latin1'), hash);
      return { ok: equalStrings(computed, hash), legacy: 'apr1' };
    }
    case 'sha': {
      const expected = Buffer.from(hash.slice('{SHA}'.length), 'base64');
      const actual = createHash('sha1').update(password, 'utf8').digest();
      return { ok: expected.length === actual.length && timingSafeEqual(expected, actual), legacy: 'sha' };
    }
  }
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Why a bcrypt cost is unusable, or null. */
export function validateBcryptCost(cost: number): string | null {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    return `bcrypt cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`;
  }
  return null;
}

/**
 * A bcrypt hash of `password` ("$2b$CC$…", read by Apache's `htpasswd -v`, Distribution / Go's
 * x/crypto/bcrypt and bcryptjs). Throws RangeError for a bad cost or an empty password.
 * Passwords over 72 bytes are hashed as bcrypt does (truncated): callers that take a new password
 * from a person should refuse those first (see `BCRYPT_MAX_PASSWORD_BYTES`).
 */
export async function hashPassword(password: string, cost: number = DEFAULT_BCRYPT_COST): Promise<string> {
  const invalid = validateBcryptCost(cost);
  if (invalid) throw new RangeError(invalid);
  if (typeof password !== 'string' || password.length === 0) throw new RangeError('password is empty');
  return bcrypt.hash(password, await bcrypt.genSalt(cost));
}

const dummyHashes = new Map<number, Promise<string>>([[DEFAULT_BCRYPT_COST, Promise.resolve(DUMMY_BCRYPT_HASH)]]);

/**
 * A dummy bcrypt hash at `cost` (memoised per cost; cost 10 is DUMMY_BCRYPT_HASH), so the
 * unknown-user compare can cost what the file's real users cost.
 */
export function dummyBcryptHash(cost: number): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    if (validateBcryptCost(cost)) return Promise.resolve(DUMMY_BCRYPT_HASH);
    hash = hashPassword(randomBytes(32).toString('base64url'), cost);
    dummyHashes.set(cost, hash);
    hash.catch(() => dummyHashes.delete(cost));
  }
  return hash;
}
