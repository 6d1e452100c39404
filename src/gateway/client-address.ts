// Who the client is, behind trusted proxies (regate.http.trustedproxies).
//
// Without trusted proxies the client is the socket's peer and any X-Forwarded-For is ignored: a
// client can write whatever it likes there. With them (CIDRs, or proxy-addr's names `loopback`,
// `linklocal`, `uniquelocal`), X-Forwarded-For is read from the right, hop by hop, for as long as
// the hop it came from is trusted: the first address not vouched for by a trusted hop is the client.
// That address is what throttling counts failed logins against and what the access log shows, so
// one attacker behind the load balancer cannot lock everyone out.
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

export type TrustedProxies = (address: string, hop: number) => boolean;

/** Never trusts anyone: the peer is the client. */
export const TRUST_NOBODY: TrustedProxies = () => false;

/** Compiles the configured list; throws TypeError naming the entry proxy-addr cannot read. */
export function compileTrustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return TRUST_NOBODY;
  for (const entry of entries) {
    try {
      proxyaddr.compile(entry);
    } catch {
      throw new TypeError(`"${entry}" is not an IP address, a CIDR or one of loopback, linklocal, uniquelocal`);
    }
  }
  return proxyaddr.compile([...entries]);
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * The request's addresses from the peer back to the client: [peer, trusted hops…, client]. Just
 * [peer] when the peer is not trusted. Read the socket early: it is gone once a destroyed request
 * has been cleaned up.
 */
export function addressChain(req: IncomingMessage, trust: TrustedProxies): string[] {
  if (!req.socket?.remoteAddress) return ['-'];
  if (trust === TRUST_NOBODY) return [unmapped(req.socket.remoteAddress)];
  return proxyaddr.all(req, trust).map(unmapped);
}

/** The client's address (the last address of the chain). */
export function clientAddress(chain: readonly string[]): string {
  return chain[chain.length - 1] ?? '-';
}

/** X-Forwarded-For for the next hop: the client first, then every hop up to this one's peer. */
export function forwardedFor(chain: readonly string[]): string {
  return [...chain].reverse().join(', ');
}
