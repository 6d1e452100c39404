// v1 auth, as tempauth, swauth and Ceph RGW speak it: GET the auth URL with X-Auth-User and
// X-Auth-Key, get back X-Storage-Url and X-Auth-Token.
import type { SwiftSession } from './auth.js';
import { SwiftAuthError } from './errors.js';
import { header, sendWhole, type HttpAgents } from './http.js';

export async function authenticateV1(authUrl: string, user: string, key: string, agents: HttpAgents): Promise<SwiftSession> {
  const res = await sendWhole(new URL(authUrl), agents, {
    method: 'GET',
    headers: { 'x-auth-user': user, 'x-auth-key': key },
    timeoutMs: 30_000,
  });
  if (res.status === 401 || res.status === 403) throw new SwiftAuthError(`v1 auth at ${redact(authUrl)} refused the credentials of user ${user} (HTTP ${res.status})`, res.status);
  if (res.status < 200 || res.status >= 300) throw new SwiftAuthError(`v1 auth at ${redact(authUrl)} answered HTTP ${res.status}`, res.status);
  const token = header(res.headers, 'x-auth-token') ?? header(res.headers, 'x-storage-token');
  const storageUrl = header(res.headers, 'x-storage-url');
  if (!token || !storageUrl) throw new SwiftAuthError(`v1 auth at ${redact(authUrl)} answered without X-Auth-Token and X-Storage-Url`, res.status);
  // tempauth says how long the token lives; RGW does not (its tokens last a day by default).
  const lifetime = Number(header(res.headers, 'x-auth-token-expires'));
  return { token, storageUrl, expiresAt: Number.isFinite(lifetime) && lifetime > 0 ? Date.now() + lifetime * 1000 : undefined };
}

/** An auth URL for messages: scheme, host and path only. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
