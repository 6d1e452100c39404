// Repeated failed logins from one client address are throttled: after `maxFailures` wrong
// credentials within `windowMs`, every credentialed request from that address is answered 429
// TOOMANYREQUESTS (with Retry-After) for `windowMs`, without checking anything, correct credentials
// included (a hit must not tell a guesser it was right). Other addresses are not affected, and once
// the block ends the address starts afresh. Requests WITHOUT credentials are never counted (every
// Docker client sends one first, to get the challenge).
//
// Checks in flight count too: an address may have at most `maxFailures - failures` distinct
// credentials being checked at once, so a burst of parallel guesses cannot run thousands of bcrypt
// compares before the first failure is recorded. Identical credentials in flight count once (the
// htpasswd store shares one bcrypt run between them), so a client's parallel layer pushes are fine.
//
// Addresses: IPv4-mapped IPv6 is folded to IPv4, and IPv6 is grouped by /64 (one host usually
// owns a whole /64). The table is bounded (`maxAddresses`); expired entries are swept first, then
// the oldest. The client address is the socket's peer, or behind regate.http.trustedproxies the
// address those proxies vouch for (client-address.ts); an untrusted X-Forwarded-For is never read.
import { isIPv6 } from 'node:net';

export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxAddresses?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  pending: Map<string, number>;
}

export type Admission = { ok: true; ticket: Ticket } | { ok: false; retryAfterSeconds: number; blockedNow: boolean };

export interface Ticket {
  readonly address: string;
  readonly credential: string;
}

/** The throttling key for a socket's peer address. Pure. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const zoneless = address.split('%')[0]!;
  const [head = '', tail = ''] = zoneless.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = zoneless.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

export class AuthThrottle {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: ThrottleOptions) {
    this.maxFailures = Math.max(1, options.maxFailures);
    this.windowMs = Math.max(1, options.windowMs);
    this.maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Asks to check `credential` (an opaque key of user + password) for a request from `address`. */
  admit(address: string, credential: string): Admission {
    const now = this.now();
    let entry = this.entries.get(address);
    if (entry && entry.blockedUntil > now) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((entry.blockedUntil - now) / 1000)), blockedNow: false };
    }
    if (entry && entry.blockedUntil !== 0) {
      entry = undefined; // the block has ended: start afresh
      this.entries.delete(address);
    }
    if (!entry) {
      entry = { failures: 0, windowStart: now, blockedUntil: 0, pending: new Map() };
      this.entries.set(address, entry);
      this.bound();
    } else if (now - entry.windowStart >= this.windowMs) {
      entry.failures = 0;
      entry.windowStart = now;
    }
    if (!entry.pending.has(credential) && entry.failures + entry.pending.size >= this.maxFailures) {
      return { ok: false, retryAfterSeconds: 1, blockedNow: false };
    }
    entry.pending.set(credential, (entry.pending.get(credential) ?? 0) + 1);
    return { ok: true, ticket: { address, credential } };
  }

  /** Reports the outcome of an admitted check. Returns true when this failure started a block. */
  settle(ticket: Ticket, success: boolean): boolean {
    const entry = this.entries.get(ticket.address);
    if (!entry) return false;
    const left = (entry.pending.get(ticket.credential) ?? 1) - 1;
    if (left > 0) entry.pending.set(ticket.credential, left);
    else entry.pending.delete(ticket.credential);
    if (success) {
      if (entry.failures === 0 && entry.pending.size === 0 && entry.blockedUntil === 0) this.entries.delete(ticket.address);
      return false;
    }
    const now = this.now();
    if (now - entry.windowStart >= this.windowMs) {
      entry.failures = 0;
      entry.windowStart = now;
    }
    entry.failures += 1;
    if (entry.failures >= this.maxFailures && entry.blockedUntil <= now) {
      entry.blockedUntil = now + this.windowMs;
      return true;
    }
    return false;
  }

  /** How many addresses are tracked (tests). */
  get size(): number {
    return this.entries.size;
  }

  private bound(): void {
    if (this.entries.size <= this.maxAddresses) return;
    const now = this.now();
    for (const [address, entry] of this.entries) {
      const expired = entry.blockedUntil !== 0 ? entry.blockedUntil <= now : now - entry.windowStart >= this.windowMs;
      if (expired && entry.pending.size === 0) this.entries.delete(address);
    }
    for (const address of this.entries.keys()) {
      if (this.entries.size <= this.maxAddresses) break;
      this.entries.delete(address);
    }
  }
}
