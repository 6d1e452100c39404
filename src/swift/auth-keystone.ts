// Keystone v3 (password with user and project domains, trusts, application credentials) and v2.0
// (tenant name or id). Both pick the object-store endpoint from the returned catalog by region and
// interface.
import type { SwiftSession } from './auth.js';
import { redact } from './auth-v1.js';
import { SwiftAuthError } from './errors.js';
import { header, sendWhole, type HttpAgents } from './http.js';
import type { SwiftOptions } from './swift-options.js';

const join = (base: string, path: string): string => `${base.replace(/\/+$/, '')}/${path}`;

function parseJson(body: Buffer, where: string): any {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new SwiftAuthError(`${where} answered a body that is not JSON`);
  }
}

function parseExpiry(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value.endsWith('Z') || /[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isFinite(t) ? t : undefined;
}

function refused(where: string, status: number, body: Buffer): SwiftAuthError {
  let why = '';
  try {
    const parsed = JSON.parse(body.toString('utf8'));
    const message = parsed?.error?.message;
    if (typeof message === 'string') why = `: ${message.slice(0, 200)}`;
  } catch {
    // not JSON: no detail
  }
  return new SwiftAuthError(`${where} refused the credentials (HTTP ${status})${why}`, status);
}

export function v3Body(o: SwiftOptions): object {
  if (o.applicationCredentialSecret !== undefined) {
    const credential: Record<string, unknown> = { secret: o.applicationCredentialSecret };
    if (o.applicationCredentialId) credential.id = o.applicationCredentialId;
    else {
      credential.name = o.applicationCredentialName;
      credential.user = o.userId ? { id: o.userId } : { name: o.username, domain: o.domainId ? { id: o.domainId } : { name: o.domain ?? 'Default' } };
    }
    // An application credential is scoped already: sending a scope is refused with 401.
    return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
  }
  const user: Record<string, unknown> = { password: o.password };
  if (o.userId) user.id = o.userId;
  else {
    user.name = o.username;
    user.domain = o.domainId ? { id: o.domainId } : o.domain ? { name: o.domain } : { id: 'default' };
  }
  const auth: Record<string, unknown> = { identity: { methods: ['password'], password: { user } } };
  if (o.trustId) auth.scope = { 'OS-TRUST:trust': { id: o.trustId } };
  else if (o.tenantId) auth.scope = { project: { id: o.tenantId } };
  else if (o.tenant) {
    const domain = o.tenantDomainId
      ? { id: o.tenantDomainId }
      : o.tenantDomain
        ? { name: o.tenantDomain }
        : o.domainId
          ? { id: o.domainId }
          : o.domain
            ? { name: o.domain }
            : { id: 'default' };
    auth.scope = { project: { name: o.tenant, domain } };
  }
  return { auth };
}

export async function authenticateV3(o: SwiftOptions, agents: HttpAgents): Promise<SwiftSession> {
  const where = `Keystone v3 at ${redact(o.authUrl!)}`;
  const res = await sendWhole(new URL(join(o.authUrl!, 'auth/tokens')), agents, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: Buffer.from(JSON.stringify(v3Body(o))),
    timeoutMs: 30_000,
  });
  if (res.status === 401 || res.status === 403 || res.status === 400) throw refused(where, res.status, res.body);
  if (res.status !== 201 && res.status !== 200) throw new SwiftAuthError(`${where} answered HTTP ${res.status}`, res.status);
  const token = header(res.headers, 'x-subject-token');
  const parsed = parseJson(res.body, where);
  if (!token) throw new SwiftAuthError(`${where} answered without X-Subject-Token`);
  const catalog: any[] = Array.isArray(parsed?.token?.catalog) ? parsed.token.catalog : [];
  const storageUrl = pickV3Endpoint(catalog, o, where);
  return { token, storageUrl, expiresAt: parseExpiry(parsed?.token?.expires_at) };
}

function pickV3Endpoint(catalog: any[], o: SwiftOptions, where: string): string {
  const services = catalog.filter((s) => s?.type === 'object-store');
  if (services.length === 0) throw new SwiftAuthError(`${where}: the token's catalog has no object-store service`);
  for (const service of services) {
    const endpoints: any[] = Array.isArray(service.endpoints) ? service.endpoints : [];
    const match = endpoints.find(
      (e) => e?.interface === o.endpointType && (!o.region || e?.region === o.region || e?.region_id === o.region) && typeof e?.url === 'string',
    );
    if (match) return match.url;
  }
  throw new SwiftAuthError(`${where}: no ${o.endpointType} object-store endpoint${o.region ? ` in region ${o.region}` : ''} in the catalog`);
}

export async function authenticateV2(o: SwiftOptions, agents: HttpAgents): Promise<SwiftSession> {
  const where = `Keystone v2.0 at ${redact(o.authUrl!)}`;
  const auth: Record<string, unknown> = { passwordCredentials: { username: o.username, password: o.password } };
  if (o.tenantId) auth.tenantId = o.tenantId;
  else if (o.tenant) auth.tenantName = o.tenant;
  if (o.trustId) auth.trust_id = o.trustId;
  const res = await sendWhole(new URL(join(o.authUrl!, 'tokens')), agents, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: Buffer.from(JSON.stringify({ auth })),
    timeoutMs: 30_000,
  });
  if (res.status === 401 || res.status === 403 || res.status === 400) throw refused(where, res.status, res.body);
  if (res.status !== 200 && res.status !== 203) throw new SwiftAuthError(`${where} answered HTTP ${res.status}`, res.status);
  const access = parseJson(res.body, where)?.access;
  const token = access?.token?.id;
  if (typeof token !== 'string') throw new SwiftAuthError(`${where} answered without access.token.id`);
  const catalog: any[] = Array.isArray(access?.serviceCatalog) ? access.serviceCatalog : [];
  const key = `${o.endpointType}URL`;
  for (const service of catalog.filter((s) => s?.type === 'object-store')) {
    const endpoints: any[] = Array.isArray(service.endpoints) ? service.endpoints : [];
    const match = endpoints.find((e) => (!o.region || e?.region === o.region) && typeof e?.[key] === 'string');
    if (match) return { token, storageUrl: match[key], expiresAt: parseExpiry(access?.token?.expires) };
  }
  throw new SwiftAuthError(`${where}: no ${o.endpointType} object-store endpoint${o.region ? ` in region ${o.region}` : ''} in the catalog`);
}
