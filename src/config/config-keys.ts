// Every configuration key regate knows, in one list: the validators take their known keys from
// here (keysUnder), and docs/configuration.md documents exactly these paths, once each (a unit
// test holds the two together). A key a validator reads but this list lacks is reported as
// unknown, so a new key cannot work without being documented.
//
// Paths are dotted; `[]` marks a list whose items are mappings (`notifications.endpoints[].url`).
// A path with no children here is taken as a whole (`log.fields`, `proxy`, `storage.inmemory`).
// The order within a section is the order validators list known keys in their messages.

/** What regate does with a key that is set. */
export type KeyTreatment =
  /** Read and acted on. */
  | 'honoured'
  /** Accepted without effect and without a notice (a Distribution tuning knob with nothing to tune here). */
  | 'ignored'
  /** Accepted with a one-line notice that it has no effect (distribution-keys.ts). */
  | 'notice'
  /** regate refuses to start (a config relying on it would silently do something else). */
  | 'refused';

export interface ConfigKey {
  readonly path: string;
  readonly treatment: KeyTreatment;
}

const honoured = (...paths: string[]): ConfigKey[] => paths.map((path) => ({ path, treatment: 'honoured' }));
const ignored = (...paths: string[]): ConfigKey[] => paths.map((path) => ({ path, treatment: 'ignored' }));
const notice = (...paths: string[]): ConfigKey[] => paths.map((path) => ({ path, treatment: 'notice' }));
const refused = (...paths: string[]): ConfigKey[] => paths.map((path) => ({ path, treatment: 'refused' }));

export const CONFIG_KEYS: readonly ConfigKey[] = [
  ...honoured('version'),

  ...honoured('log.level', 'log.formatter', 'log.fields', 'log.accesslog.disabled'),
  ...refused('log.hooks'),
  ...notice('log.reportcaller'),
  // Distribution's deprecated top-level spelling of log.level.
  ...honoured('loglevel'),

  // The drivers regate provides, then Distribution's others (refused by name), then the sections.
  ...honoured('storage.filesystem.rootdirectory'),
  ...ignored('storage.filesystem.maxthreads'),
  ...honoured('storage.inmemory'),
  ...honoured(
    'storage.swift.authurl', 'storage.swift.username', 'storage.swift.userid', 'storage.swift.password', 'storage.swift.container',
    'storage.swift.region', 'storage.swift.tenant', 'storage.swift.tenantid', 'storage.swift.domain', 'storage.swift.domainid',
    'storage.swift.tenantdomain', 'storage.swift.tenantdomainid', 'storage.swift.trustid', 'storage.swift.prefix',
    'storage.swift.secretkey',
  ),
  // HP Cloud's TempURL signing: regate signs with secretkey alone.
  ...ignored('storage.swift.accesskey'),
  ...honoured(
    'storage.swift.storageurl', 'storage.swift.authtoken',
    'storage.swift.applicationcredentialid', 'storage.swift.applicationcredentialname', 'storage.swift.applicationcredentialsecret',
    'storage.swift.authversion', 'storage.swift.endpointtype', 'storage.swift.insecureskipverify', 'storage.swift.chunksize',
    'storage.swift.tempurlcontainerkey', 'storage.swift.tempurlmethods', 'storage.swift.maxconnections',
  ),
  ...refused('storage.s3', 'storage.azure', 'storage.gcs', 'storage.oss', 'storage.swift-legacy'),
  ...honoured('storage.delete.enabled'),
  ...honoured('storage.cache.blobdescriptor', 'storage.cache.blobdescriptorsize'),
  ...honoured(
    'storage.maintenance.readonly.enabled',
    'storage.maintenance.uploadpurging.enabled', 'storage.maintenance.uploadpurging.age',
    'storage.maintenance.uploadpurging.interval', 'storage.maintenance.uploadpurging.dryrun',
  ),
  ...honoured('storage.redirect.disable'),

  // Distribution 2.8's http keys; those regate does not act on are answered in distribution-keys.ts.
  ...honoured('http.addr'),
  ...refused('http.net', 'http.prefix'),
  ...notice('http.host', 'http.secret', 'http.relativeurls'),
  ...honoured('http.draintimeout'),
  ...honoured('http.tls.certificate', 'http.tls.key', 'http.tls.minimumtls'),
  ...refused('http.tls.clientcas', 'http.tls.letsencrypt'),
  ...honoured('http.debug.addr', 'http.debug.prometheus.enabled', 'http.debug.prometheus.path'),
  ...honoured('http.headers'),
  ...notice('http.http2'),

  ...honoured('auth.htpasswd.realm', 'auth.htpasswd.path'),
  ...refused('auth.silly', 'auth.token'),

  ...honoured('health.storagedriver.enabled', 'health.storagedriver.interval', 'health.storagedriver.threshold'),
  ...refused('health.http', 'health.tcp', 'health.file'),

  // The section itself: with no enabled endpoint it only gets a notice (distribution-keys.ts).
  ...honoured('notifications'),
  ...honoured('notifications.events.includereferences'),
  ...honoured(
    'notifications.endpoints[].name', 'notifications.endpoints[].disabled', 'notifications.endpoints[].url',
    'notifications.endpoints[].headers', 'notifications.endpoints[].timeout', 'notifications.endpoints[].threshold',
    'notifications.endpoints[].backoff', 'notifications.endpoints[].ignoredmediatypes',
    'notifications.endpoints[].ignore.mediatypes', 'notifications.endpoints[].ignore.actions',
  ),

  // The section itself: without storage.cache.blobdescriptor: redis it only gets a notice.
  ...honoured('redis'),
  ...honoured('redis.addr', 'redis.password', 'redis.db', 'redis.dialtimeout', 'redis.readtimeout', 'redis.writetimeout'),
  // One multiplexed connection serves every request: the pool sizes have nothing to size.
  ...ignored('redis.pool.maxidle', 'redis.pool.maxactive', 'redis.pool.idletimeout'),
  ...honoured('redis.tls.enabled'),

  ...refused('middleware', 'reporting', 'policy'),
  ...honoured('proxy.remoteurl', 'proxy.username', 'proxy.password', 'proxy.ttl'),
  ...refused('compatibility.schema1.enabled'),
  ...notice('compatibility.schema1.signingkeyfile'),
  ...refused('validation.manifests'),
  ...notice('validation.enabled', 'validation.disabled'),

  ...honoured('regate.manifestmaxbytes', 'regate.blobmaxbytes'),
  ...honoured('regate.tls.generate', 'regate.tls.dir', 'regate.tls.hosts'),
  ...honoured('regate.ping'),
  ...honoured('regate.http.headerstimeout', 'regate.http.keepalivetimeout', 'regate.http.idletimeout', 'regate.http.trustedproxies'),
  ...honoured('regate.auth.maxfailures', 'regate.auth.failurewindow'),
  ...honoured(
    'regate.upstream.url', 'regate.upstream.passauthorization', 'regate.upstream.username', 'regate.upstream.password',
    'regate.upstream.idletimeout', 'regate.upstream.maxconnections', 'regate.upstream.insecureskipverify',
  ),
  ...honoured(
    'regate.access.groupsfile',
    'regate.access.rules[].users', 'regate.access.rules[].groups', 'regate.access.rules[].repositories', 'regate.access.rules[].actions',
  ),
  ...honoured(
    'regate.mirrors[].name', 'regate.mirrors[].url', 'regate.mirrors[].username', 'regate.mirrors[].password', 'regate.mirrors[].passwordfile',
    'regate.mirrors[].ca', 'regate.mirrors[].insecureskipverify', 'regate.mirrors[].tagttl', 'regate.mirrors[].ttl', 'regate.mirrors[].default',
  ),
  ...honoured('regate.ui.enabled'),
  ...honoured('regate.ui.sessionttl'),
  ...honoured(
    'regate.gc.enabled', 'regate.gc.interval', 'regate.gc.delay', 'regate.gc.deleteuntagged', 'regate.gc.listinglag', 'regate.gc.linkwindow',
  ),
];

const BY_PATH = new Map(CONFIG_KEYS.map((k) => [k.path, k]));

/**
 * The names directly under `prefix` ('' for the top level), in list order, without `[]`:
 * keysUnder('notifications') is [events, endpoints]; the keys of a list's items are under
 * 'notifications.endpoints[]'.
 */
export function keysUnder(prefix: string): string[] {
  const parents = prefix === '' ? [] : prefix.split('.');
  const names: string[] = [];
  for (const { path } of CONFIG_KEYS) {
    const segments = path.split('.');
    if (segments.length <= parents.length || parents.some((p, i) => segments[i] !== p)) continue;
    const name = segments[parents.length]!.replace(/\[\]$/, '');
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** The entry for exactly this path, if the list has one. */
export function configKey(path: string): ConfigKey | undefined {
  return BY_PATH.get(path);
}

/** The names under `prefix` whose own entry is refused (e.g. storage's Distribution-only drivers). */
export function refusedUnder(prefix: string): string[] {
  return keysUnder(prefix).filter((name) => configKey(`${prefix}.${name}`)?.treatment === 'refused');
}

/** The storage drivers regate provides; every other name under storage is a section or refused. */
export const STORAGE_DRIVERS = ['filesystem', 'inmemory', 'swift'] as const;

/** storage's sections that name no driver: delete, cache, maintenance, redirect. */
export const STORAGE_SECTIONS: ReadonlySet<string> = new Set(
  keysUnder('storage').filter((name) => !(STORAGE_DRIVERS as readonly string[]).includes(name) && !refusedUnder('storage').includes(name)),
);
