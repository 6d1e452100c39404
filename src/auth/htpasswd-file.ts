// The htpasswd file as text: parse, classify hashes, and edit. PURE: no I/O, no clock, no crypto.
//
// Format (what Apache's htpasswd and CNCF Distribution read and write):
//
//   # a comment (first non-blank character is '#')
//   <user>:<hash>
//
// Parsing follows Distribution: each line is trimmed of surrounding whitespace (a trailing '\r' of a
// CRLF file included), blank lines and comments are skipped, and the line is split at its FIRST ':'.
// Accepted hashes: bcrypt ($2a$ / $2b$ / $2y$), and the legacy formats of nginx-era files, Apache MD5
// ($apr1$) and {SHA}. Everything else is an error that names the 1-based line number; plaintext
// passwords (`htpasswd -p`) never authenticate. Messages never quote a line's content (a broken line
// may hold a password), only the line number, the user name where it is known, and what is wrong.
//
// Edits are text → text: `setUser` replaces the user's line in place (or appends one) and
// `removeUser` drops it; every other line (comments, blank lines, even broken lines) is kept
// byte for byte, line terminators included. The result always ends with a newline.

export type HashKind = 'bcrypt' | 'apr1' | 'sha';

export interface HtpasswdParseError {
  /** 1-based line number. */
  line: number;
  message: string;
}

export interface ParsedHtpasswd {
  /** user → hash, in file order. Users with an error on any of their lines are left out. */
  entries: Map<string, string>;
  errors: HtpasswdParseError[];
}

/** Thrown by the edit functions; `code` tells the cases apart. */
export class HtpasswdEditError extends Error {
  constructor(
    readonly code: 'USER_NOT_FOUND' | 'INVALID_USER' | 'INVALID_HASH',
    message: string,
  ) {
    super(message);
    this.name = 'HtpasswdEditError';
  }
}

/** `removeUser` of a user who has no line in the file. */
export class UserNotFoundError extends HtpasswdEditError {
  constructor(readonly user: string) {
    super('USER_NOT_FOUND', `user "${user}" not found`);
    this.name = 'UserNotFoundError';
  }
}

export const MAX_USER_NAME_BYTES = 255;

/**
 * Why `user` cannot be a user name, or null when it can. Rules: not empty, at most 255 UTF-8 bytes,
 * no ':' (the field separator), no whitespace or control characters (C0, DEL, C1), and not starting
 * with '#' (the line would read as a comment).
 */
export function validateUserName(user: string): string | null {
  if (typeof user !== 'string' || user.length === 0) return 'user name is empty';
  if (Buffer.byteLength(user, 'utf8') > MAX_USER_NAME_BYTES) return `user name is longer than ${MAX_USER_NAME_BYTES} bytes`;
  if (user.includes(':')) return "user name contains ':'";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(user)) return 'user name contains a control character';
  if (/\s/u.test(user)) return 'user name contains whitespace';
  if (user.startsWith('#')) return "user name starts with '#'";
  return null;
}

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}$/;
const SHA = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;

/**
 * What kind of hash this is, or why it is not accepted. Malformed bcrypt/apr1/SHA values, other
 * crypt schemes ($1$, $5$, $6$, $y$, argon2 …, {SSHA} …) and plaintext are all refused.
 */
export function classifyHash(hash: string): { kind: HashKind } | { error: string } {
  if (hash.length === 0) return { error: 'empty password hash' };
  if (BCRYPT.test(hash)) return { kind: 'bcrypt' };
  if (APR1.test(hash)) return { kind: 'apr1' };
  if (SHA.test(hash)) return { kind: 'sha' };
  if (hash.startsWith('$2')) return { error: 'malformed bcrypt hash' };
  if (hash.startsWith('$apr1$')) return { error: 'malformed $apr1$ hash' };
  if (hash.startsWith('{SHA}')) return { error: 'malformed {SHA} hash' };
  if (hash !== hash.trim()) return { error: 'whitespace around the password hash' };
  const scheme = /^\$([A-Za-z0-9-]{1,32})\$/.exec(hash);
  if (scheme) return { error: `unsupported hash scheme "$${scheme[1]}$" (use bcrypt)` };
  const braces = /^\{([A-Za-z0-9.-]{1,32})\}/.exec(hash);
  if (braces) return { error: `unsupported hash scheme "{${braces[1]}}" (use bcrypt)` };
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) {
    return { error: 'plaintext passwords are not accepted (nor DES crypt hashes, which this value may be; use bcrypt)' };
  }
  return { error: 'plaintext passwords are not accepted' };
}

/** Is this a bcrypt hash, and at what cost? (null when it is not bcrypt) */
export function bcryptCost(hash: string): number | null {
  return BCRYPT.test(hash) ? Number(hash.slice(4, 6)) : null;
}

// ---------------------------------------------------------------------------------------------
// Lines

interface RawLine {
  /** The line without its terminator. */
  content: string;
  /** '\n', '\r\n' or '' (the last line of a file without a final newline). */
  terminator: string;
}

function splitLines(text: string): RawLine[] {
  const lines: RawLine[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) {
      lines.push({ content: text.slice(start), terminator: '' });
      break;
    }
    const cr = nl > start && text[nl - 1] === '\r';
    lines.push({ content: text.slice(start, cr ? nl - 1 : nl), terminator: cr ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
}

type Classified =
  | { type: 'skip' }
  | { type: 'entry'; user: string; hash: string }
  | { type: 'error'; user?: string; message: string };

function classifyLine(content: string, index: number): Classified {
  // A UTF-8 byte order mark before the first line is not part of the first user's name.
  const raw = index === 0 && content.startsWith('\uFEFF') ? content.slice(1) : content;
  const line = raw.trim();
  if (line.length === 0 || line.startsWith('#')) return { type: 'skip' };
  const colon = line.indexOf(':');
  if (colon === -1) return { type: 'error', message: "no ':' separating user and password hash" };
  const user = line.slice(0, colon);
  const hash = line.slice(colon + 1);
  if (user.length === 0) return { type: 'error', message: 'empty user name' };
  const invalid = validateUserName(user);
  if (invalid) return { type: 'error', message: `invalid user name: ${invalid}` };
  const classified = classifyHash(hash);
  if ('error' in classified) return { type: 'error', user, message: `user "${user}": ${classified.error}` };
  return { type: 'entry', user, hash };
}

/** The user a line belongs to, if it names one (even when its hash is refused). */
function lineUser(content: string, index: number): string | undefined {
  const c = classifyLine(content, index);
  return c.type === 'entry' || c.type === 'error' ? c.user : undefined;
}

/**
 * Parses an htpasswd file. Errors carry 1-based line numbers. A user named on more than one line is
 * an error on each later line, and that user is left out of `entries` altogether (Apache uses the
 * first line, Distribution the last: a file that means different things to different readers
 * grants nothing). A user whose only line is refused is absent too.
 */
export function parseHtpasswd(text: string): ParsedHtpasswd {
  const entries = new Map<string, string>();
  const errors: HtpasswdParseError[] = [];
  const firstLine = new Map<string, number>();
  const excluded = new Set<string>();
  splitLines(text).forEach((raw, index) => {
    const lineNumber = index + 1;
    const c = classifyLine(raw.content, index);
    if (c.type === 'skip') return;
    if (c.user !== undefined) {
      const first = firstLine.get(c.user);
      if (first !== undefined) {
        errors.push({ line: lineNumber, message: `duplicate user "${c.user}" (first on line ${first})` });
        excluded.add(c.user);
        return;
      }
      firstLine.set(c.user, lineNumber);
    }
    if (c.type === 'error') {
      errors.push({ line: lineNumber, message: c.message });
      return;
    }
    entries.set(c.user, c.hash);
  });
  for (const user of excluded) entries.delete(user);
  return { entries, errors };
}

/** The users with a valid line, in file order. */
export function listUsers(text: string): string[] {
  return [...parseHtpasswd(text).entries.keys()];
}

/** Does any line (valid or not) belong to `user`? */
export function hasUser(text: string, user: string): boolean {
  return splitLines(text).some((raw, index) => lineUser(raw.content, index) === user);
}

function assertUser(user: string): void {
  const invalid = validateUserName(user);
  if (invalid) throw new HtpasswdEditError('INVALID_USER', `invalid user name: ${invalid}`);
}

function newlineOf(lines: RawLine[]): string {
  return lines.find((l) => l.terminator !== '')?.terminator ?? '\n';
}

function join(lines: RawLine[]): string {
  if (lines.length === 0) return '';
  const last = lines[lines.length - 1]!;
  if (last.terminator === '') last.terminator = newlineOf(lines);
  return lines.map((l) => l.content + l.terminator).join('');
}

/**
 * Sets `user`'s hash: the user's first line is replaced in place (keeping its line terminator) and
 * any later lines for the same user are dropped; when the user has no line, one is appended. Every
 * other line is kept byte for byte. The hash must be an accepted format (bcrypt, apr1, SHA).
 */
export function setUser(text: string, user: string, hash: string): string {
  assertUser(user);
  const kind = classifyHash(hash);
  if ('error' in kind) throw new HtpasswdEditError('INVALID_HASH', `refusing to write the hash: ${kind.error}`);
  const lines = splitLines(text);
  const out: RawLine[] = [];
  let replaced = false;
  lines.forEach((raw, index) => {
    if (lineUser(raw.content, index) !== user) {
      out.push(raw);
    } else if (!replaced) {
      // A BOM before the first line stays where it was.
      const bom = index === 0 && raw.content.startsWith('\uFEFF') ? '\uFEFF' : '';
      out.push({ content: `${bom}${user}:${hash}`, terminator: raw.terminator });
      replaced = true;
    }
  });
  if (!replaced) {
    const newline = newlineOf(lines);
    if (out.length > 0 && out[out.length - 1]!.terminator === '') out[out.length - 1]!.terminator = newline;
    out.push({ content: `${user}:${hash}`, terminator: newline });
  }
  return join(out);
}

/** Removes every line of `user`; throws UserNotFoundError when there is none. */
export function removeUser(text: string, user: string): string {
  assertUser(user);
  const lines = splitLines(text);
  const out = lines.filter((raw, index) => lineUser(raw.content, index) !== user);
  if (out.length === lines.length) throw new UserNotFoundError(user);
  // A BOM before a removed first line moves to the new first line.
  const first = lines[0]!;
  if (first.content.startsWith('\uFEFF') && out[0] !== first) {
    if (out.length === 0) return '';
    out[0] = { content: `\uFEFF${out[0]!.content}`, terminator: out[0]!.terminator };
  }
  return join(out);
}
