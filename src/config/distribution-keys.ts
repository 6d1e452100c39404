// The keys of Distribution 2.8's `version: 0.1` schema that regate does not act on. Each is either
// refused at start, naming its path and why (when a config that relies on it would silently do
// something else: the worst is `proxy.remoteurl`, a pull-through cache that would become an
// empty writable registry), or accepted with a one-line notice (when regate behaves the same
// without it, like `http.secret`). The keys regate honours are validated where they are read.
type Fail = (key: string, problem: string) => never;

type Rule =
  | { path: string; refuse: string; when?: (value: unknown, raw: Record<string, unknown>) => boolean }
  | { path: string; notice: string; when?: (value: unknown, raw: Record<string, unknown>) => boolean };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A section that says something: not null, not an empty mapping or list. */
const nonEmpty = (v: unknown): boolean => v !== null && v !== undefined && !(isObj(v) && Object.keys(v).length === 0) && !(Array.isArray(v) && v.length === 0);

const activeEndpoints = (v: unknown): boolean => {
  const endpoints = isObj(v) ? v.endpoints : undefined;
  return Array.isArray(endpoints) && endpoints.some((e) => !(isObj(e) && e.disabled === true));
};
const cacheIsRedis = (raw: Record<string, unknown>): boolean => isObj(raw.storage) && isObj(raw.storage.cache) && raw.storage.cache.blobdescriptor === 'redis';
const anyMiddleware = (v: unknown): boolean => isObj(v) && Object.values(v).some(nonEmpty);

const RULES: readonly Rule[] = [
  { path: 'notifications', notice: 'notifications: no enabled endpoint, nothing to send', when: (v) => nonEmpty(v) && !activeEndpoints(v) },
  { path: 'middleware', refuse: 'is not supported by regate (registry, repository and storage middleware, e.g. a CloudFront redirect)', when: anyMiddleware },
  { path: 'reporting', refuse: 'is not supported by regate (bugsnag, newrelic)', when: nonEmpty },
  { path: 'policy', refuse: 'is not supported by regate (policy.repository.classes)', when: nonEmpty },
  { path: 'validation.manifests', refuse: 'is not supported by regate: foreign-layer URLs (validation.manifests.urls) are not checked', when: nonEmpty },
  { path: 'validation.enabled', notice: 'validation.enabled: no effect (regate has no manifest URL validation)' },
  { path: 'validation.disabled', notice: 'validation.disabled: no effect (regate has no manifest URL validation)' },
  { path: 'compatibility.schema1.enabled', refuse: 'is not supported by regate: manifests are never converted to schema1', when: (v) => v === true },
  { path: 'compatibility.schema1.signingkeyfile', notice: 'compatibility.schema1.signingkeyfile: no effect (regate never signs schema1 manifests)' },
  { path: 'redis', notice: 'redis: no effect (only storage.cache.blobdescriptor: redis uses it)', when: (v, raw) => nonEmpty(v) && !cacheIsRedis(raw) },
  { path: 'http.prefix', refuse: 'is not supported by regate: the API is served at /v2/', when: (v) => v !== '' && v !== '/' && v !== null },
  { path: 'http.net', refuse: 'is not supported by regate other than tcp', when: (v) => v !== 'tcp' && v !== null && v !== '' },
  { path: 'http.host', notice: 'http.host: no effect (regate answers with relative Location headers)' },
  { path: 'http.relativeurls', notice: 'http.relativeurls: no effect (regate\'s Location headers are always relative)' },
  { path: 'http.secret', notice: 'http.secret: no effect (regate keeps upload state in storage, not in signed client state)' },
  { path: 'http.http2', notice: 'http.http2: no effect (regate serves HTTP/1.1)' },
  { path: 'health.http', refuse: 'is not supported by regate (health checks of other services; health.storagedriver is)', when: nonEmpty },
  { path: 'health.tcp', refuse: 'is not supported by regate (health checks of other services; health.storagedriver is)', when: nonEmpty },
  { path: 'health.file', refuse: 'is not supported by regate (health checks of other services; health.storagedriver is)', when: nonEmpty },
  { path: 'log.hooks', refuse: 'is not supported by regate (log hooks, e.g. mail)', when: nonEmpty },
  { path: 'log.reportcaller', notice: 'log.reportcaller: no effect' },
];

/** The paths the rules answer, and whether each is refused; config-keys.ts lists every one (a unit test checks). */
export const DISTRIBUTION_KEY_RULES: ReadonlyArray<{ path: string; refused: boolean }> = RULES.map((rule) => ({ path: rule.path, refused: 'refuse' in rule }));

function lookup(raw: Record<string, unknown>, path: string): { found: boolean; value: unknown } {
  let node: unknown = raw;
  for (const part of path.split('.')) {
    if (!isObj(node) || !(part in node)) return { found: false, value: undefined };
    node = node[part];
  }
  return { found: true, value: node };
}

/** Refuses (through `fail`) or notices (into `warnings`) every Distribution key regate does not act on. */
export function checkDistributionKeys(raw: Record<string, unknown>, fail: Fail, warnings: string[]): void {
  for (const rule of RULES) {
    const { found, value } = lookup(raw, rule.path);
    if (!found || (rule.when && !rule.when(value, raw))) continue;
    if ('refuse' in rule) fail(rule.path, rule.refuse);
    else warnings.push(rule.notice);
  }
}
