// storage.swift: Distribution's keys with Distribution's meaning, turned into the Swift client's
// options. Every key is known or refused by name (Distribution silently ignored a misspelled
// `rootdirectory` under swift and wrote to the container's root), and no value is ever echoed
// into a message: these sections hold passwords and tokens.
import { DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE, type AuthVersion, type EndpointType, type SwiftOptions } from '../swift/swift-options.js';
import { keysUnder } from './config-keys.js';

type Fail = (key: string, problem: string) => never;

/** storage.swift's keys (config-keys.ts; the reference documents each). */
export const SWIFT_KEYS: readonly string[] = keysUnder('storage.swift');

const ENDPOINT_TYPES: readonly EndpointType[] = ['public', 'internal', 'admin'];

export function parseSwiftParameters(p: Record<string, unknown>, fail: Fail): SwiftOptions {
  const key = (k: string): string => `storage.swift.${k}`;
  for (const k of Object.keys(p)) {
    if (!SWIFT_KEYS.includes(k)) {
      const hint = k === 'rootdirectory' ? ' (Swift has no root directory: use prefix)' : '';
      fail(key(k), `is not a storage.swift key${hint}; known keys: ${SWIFT_KEYS.join(', ')}`);
    }
  }
  const str = (k: string): string | undefined => {
    const v = p[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'number') return String(v); // YAML reads a numeric tenant id or password as a number
    if (typeof v !== 'string') fail(key(k), 'must be a string');
    return v as string;
  };
  const bool = (k: string): boolean => {
    const v = p[k];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') fail(key(k), 'must be true or false');
    return v as boolean;
  };

  const container = str('container') ?? fail(key('container'), 'is required');
  if (container.includes('/')) fail(key('container'), 'must not contain "/"');
  const authUrl = str('authurl');
  const storageUrl = str('storageurl');
  const authToken = str('authtoken');
  if (!authUrl && !(storageUrl && authToken)) fail(key('authurl'), 'is required (or storageurl with authtoken)');
  for (const [k, v] of [['authurl', authUrl], ['storageurl', storageUrl]] as const) {
    if (v === undefined) continue;
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) fail(key(k), 'must be an http:// or https:// URL');
  }

  let authVersion: AuthVersion | undefined;
  if (p.authversion !== undefined && p.authversion !== null && p.authversion !== 0) {
    const v = Number(p.authversion);
    if (v !== 1 && v !== 2 && v !== 3) fail(key('authversion'), 'must be 1, 2 or 3');
    authVersion = v as AuthVersion;
  }
  const endpointType = String(p.endpointtype ?? 'public').toLowerCase() as EndpointType;
  if (!ENDPOINT_TYPES.includes(endpointType)) fail(key('endpointtype'), `must be one of ${ENDPOINT_TYPES.join(', ')}`);

  let chunkSize = DEFAULT_CHUNK_SIZE;
  if (p.chunksize !== undefined && p.chunksize !== null) {
    const v = typeof p.chunksize === 'string' && /^\d+$/.test(p.chunksize) ? Number(p.chunksize) : p.chunksize;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(key('chunksize'), 'must be a whole number of bytes');
    if ((v as number) < MIN_CHUNK_SIZE) fail(key('chunksize'), `must be at least ${MIN_CHUNK_SIZE} bytes`);
    if ((v as number) > 5 * 1024 ** 3) fail(key('chunksize'), 'must be at most 5 GiB (Swift\'s largest object)');
    chunkSize = v as number;
  }

  let tempUrlMethods: string[] = [];
  if (p.tempurlmethods !== undefined && p.tempurlmethods !== null) {
    if (!Array.isArray(p.tempurlmethods) || p.tempurlmethods.some((m) => typeof m !== 'string')) fail(key('tempurlmethods'), 'must be a list of HTTP methods');
    tempUrlMethods = (p.tempurlmethods as string[]).map((m) => m.toUpperCase());
  }

  let maxSockets = 64;
  if (p.maxconnections !== undefined && p.maxconnections !== null) {
    if (typeof p.maxconnections !== 'number' || !Number.isSafeInteger(p.maxconnections) || p.maxconnections < 1) fail(key('maxconnections'), 'must be a positive whole number');
    maxSockets = p.maxconnections as number;
  }

  const appSecret = str('applicationcredentialsecret');
  if (appSecret && !str('applicationcredentialid') && !str('applicationcredentialname')) {
    fail(key('applicationcredentialsecret'), 'needs applicationcredentialid (or applicationcredentialname with username)');
  }

  const options: SwiftOptions = {
    authUrl,
    authVersion,
    username: str('username'),
    userId: str('userid'),
    password: str('password'),
    domain: str('domain'),
    domainId: str('domainid'),
    tenant: str('tenant'),
    tenantId: str('tenantid'),
    tenantDomain: str('tenantdomain'),
    tenantDomainId: str('tenantdomainid'),
    trustId: str('trustid'),
    applicationCredentialId: str('applicationcredentialid'),
    applicationCredentialName: str('applicationcredentialname'),
    applicationCredentialSecret: appSecret,
    region: str('region'),
    endpointType,
    storageUrl,
    authToken,
    insecureSkipVerify: bool('insecureskipverify'),
    container,
    prefix: (str('prefix') ?? '').replace(/^\/+|\/+$/g, ''),
    chunkSize,
    secretKey: str('secretkey'),
    accessKey: str('accesskey'),
    tempUrlContainerKey: bool('tempurlcontainerkey'),
    tempUrlMethods,
    maxSockets,
  };
  if (authUrl && !storageUrl && !options.applicationCredentialSecret) {
    if (!options.username && !options.userId) fail(key('username'), 'is required with authurl');
    if (!options.password) fail(key('password'), 'is required with authurl');
  }
  return options;
}
