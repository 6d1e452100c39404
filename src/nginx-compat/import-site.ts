// `regate nginx import`: an nginx site that fronted a registry (seed 004's shape) turned into the
// regate config that stands where nginx stood. The site is parsed with nginx-conf; each directive
// is translated, recognised as built into regate, or reported as not translated, never dropped
// silently. Pure: text in, config object and notes out (the CLI reads and writes the files).
import nginxConf from 'nginx-conf';
import type { NginxParseTreeNode } from 'nginx-conf/dist/src/parser.js';

export interface ImportOptions {
  /** Serve the registry from storage here instead of forwarding to the site's upstream. */
  embedded?: { rootdirectory: string };
}

export interface ImportResult {
  /** A regate config.yml as an object (YAML-ready). */
  config: Record<string, unknown>;
  /** Directives regate does by itself (chunked uploads, the forwarded headers, …). */
  builtIn: string[];
  /** Directives that have no regate equivalent: the operator decides. */
  untranslated: string[];
  /** Things the operator should check (relative paths, dropped settings). */
  warnings: string[];
}

export class NginxImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NginxImportError';
  }
}

type Node = NginxParseTreeNode;

/** nginx-conf accepts a missing `}` silently: braces are checked here first, with the line. */
function checkBraces(text: string): void {
  let depth = 0;
  let line = 1;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') line++;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '#') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth < 0) throw new NginxImportError(`the nginx site does not parse: an unexpected "}" on line ${line}`);
  }
  if (quote) throw new NginxImportError('the nginx site does not parse: an unclosed quoted string');
  if (depth > 0) throw new NginxImportError(`the nginx site does not parse: ${depth} block${depth > 1 ? 's are' : ' is'} not closed with "}"`);
}

function parseSite(text: string): Node {
  checkBraces(text);
  let tree: Node | undefined;
  let failure: Error | null = null;
  try {
    new nginxConf.NginxParser().parse(text, (err, parsed) => {
      failure = err;
      tree = parsed;
    });
  } catch (err) {
    failure = err as Error;
  }
  if (failure || !tree) throw new NginxImportError(`the nginx site does not parse: ${(failure as Error | null)?.message ?? 'no tree'}`);
  return tree;
}

const children = (node: Node): Node[] => node.children ?? [];
const unquote = (value: string): string => value.trim().replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1');
const words = (value: string): string[] => value.trim().split(/\s+/).filter(Boolean);

/** nginx sizes: 0, 1024, 10k, 100m, 2g. */
function parseSize(value: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value.trim());
  if (!m) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

/** nginx times: 900, 900s, 15m, 1h, 500ms → a regate duration string. */
function parseTime(value: string): string | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) return undefined;
  return `${m[1]}${m[2] ?? 's'}`;
}

/** `listen 443 ssl`, `listen 10.0.0.1:5000`, `listen [::]:443 ssl http2`. */
function parseListen(value: string): { addr: string; ssl: boolean } {
  const [where = '80', ...flags] = words(value);
  const addr = /^\d+$/.test(where) ? `:${where}` : where.startsWith('*:') ? where.slice(1) : where;
  return { addr, ssl: flags.includes('ssl') };
}

function describe(node: Node, where: string): string {
  return `${node.name}${node.value ? ` ${String(node.value).trim()}` : ''}${where ? ` (in ${where})` : ''}`;
}

// What regate does without being told, for a site in front of a registry.
const BUILT_IN_DIRECTIVES = new Set(['chunkin', 'chunkin_resume', 'chunked_transfer_encoding', 'ssl', 'proxy_http_version', 'proxy_request_buffering', 'proxy_buffering', 'proxy_send_timeout', 'proxy_connect_timeout', 'server_name']);
const BUILT_IN_HEADERS = new Set(['host', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'connection']);

export function importNginxSite(text: string, options: ImportOptions = {}): ImportResult {
  const root = parseSite(text);
  const builtIn: string[] = [];
  const untranslated: string[] = [];
  const warnings: string[] = [];

  const upstreams = new Map<string, string[]>();
  const servers: Node[] = [];
  for (const node of children(root)) {
    if (node.name === 'upstream') {
      upstreams.set(String(node.value).trim(), children(node).filter((c) => c.name === 'server').map((c) => words(String(c.value))[0]!));
      for (const c of children(node)) if (c.name !== 'server') untranslated.push(describe(c, `upstream ${String(node.value).trim()}`));
    } else if (node.name === 'server') servers.push(node);
    else untranslated.push(describe(node, ''));
  }
  if (servers.length === 0) throw new NginxImportError('the site has no server block');
  const server = servers.find((s) => JSON.stringify(collectProxyPass(s)) !== '[]') ?? servers[0]!;
  for (const other of servers) if (other !== server) untranslated.push(`server ${directiveValue(other, 'server_name') ?? ''} (a second server block: regate is one listener)`.replace('  ', ' '));

  let addr = ':80';
  let ssl = false;
  const http: Record<string, unknown> = {};
  const tls: Record<string, unknown> = {};
  let realm: string | undefined;
  let usersFile: string | undefined;
  let blobMaxBytes: number | undefined = 1024 * 1024; // nginx's default client_max_body_size is 1m
  let idleTimeout: string | undefined;
  let passAuthorization = true; // nginx forwards Authorization unless the site clears it
  const pingPaths: string[] = [];
  const proxyTargets: string[] = [];

  const visit = (block: Node, where: string): void => {
    for (const node of children(block)) {
      const value = String(node.value ?? '').trim();
      switch (node.name) {
        case 'listen': {
          const l = parseListen(value);
          addr = l.addr;
          ssl ||= l.ssl;
          const flags = words(value).slice(1).filter((f) => f !== 'ssl');
          if (flags.length > 0) untranslated.push(`listen flags ${flags.join(' ')} (regate serves HTTP/1.1 on one address)`);
          break;
        }
        case 'ssl':
          if (value === 'on') ssl = true;
          builtIn.push(describe(node, where));
          break;
        case 'ssl_certificate':
          tls.certificate = value;
          break;
        case 'ssl_certificate_key':
          tls.key = value;
          break;
        case 'ssl_protocols': {
          const versions = words(value);
          if (versions.includes('TLSv1.2')) tls.minimumtls = 'tls1.2';
          else if (versions.includes('TLSv1.3')) tls.minimumtls = 'tls1.3';
          if (versions.some((v) => v === 'TLSv1' || v === 'TLSv1.1' || v === 'SSLv3')) warnings.push(`ssl_protocols ${value}: regate accepts TLS 1.2 and 1.3 only`);
          break;
        }
        case 'client_max_body_size': {
          const size = parseSize(value);
          if (size === undefined) untranslated.push(describe(node, where));
          else blobMaxBytes = size;
          break;
        }
        case 'auth_basic':
          if (unquote(value) === 'off') {
            if (where.startsWith('location ')) pingPaths.push(where.slice('location '.length).replace(/^=\s*/, ''));
          } else realm = unquote(value);
          break;
        case 'auth_basic_user_file':
          usersFile = unquote(value);
          break;
        case 'proxy_pass':
          proxyTargets.push(value);
          break;
        case 'proxy_read_timeout': {
          const t = parseTime(value);
          if (t === undefined) untranslated.push(describe(node, where));
          else idleTimeout = t;
          break;
        }
        case 'proxy_set_header': {
          const [name = '', ...rest] = words(value);
          const headerValue = rest.join(' ');
          if (name.toLowerCase() === 'authorization' && (headerValue === '""' || headerValue === "''")) {
            passAuthorization = false;
            builtIn.push(describe(node, where));
          } else if (BUILT_IN_HEADERS.has(name.toLowerCase())) builtIn.push(describe(node, where));
          else untranslated.push(describe(node, where));
          break;
        }
        case 'error_page':
          if (/^411\b/.test(value)) builtIn.push(describe(node, where));
          else untranslated.push(describe(node, where));
          break;
        case 'location': {
          const path = value;
          if (path.startsWith('@')) {
            // A named location only reachable through error_page: the 411 trick of chunkin.
            for (const c of children(node)) (BUILT_IN_DIRECTIVES.has(c.name) ? builtIn : untranslated).push(describe(c, `location ${path}`));
          } else if (path === '/' || path === '/_ping' || path === '/v1/_ping' || path === '= /_ping' || path === '= /v1/_ping' || path === '/v2/' || path === '/v2') {
            visit(node, `location ${path}`);
          } else {
            untranslated.push(`location ${path} { … } (regate routes by the registry API)`);
          }
          break;
        }
        default:
          if (BUILT_IN_DIRECTIVES.has(node.name)) builtIn.push(describe(node, where));
          else untranslated.push(describe(node, where));
      }
    }
  };
  visit(server, '');

  http.addr = addr;
  if (ssl) {
    if (tls.certificate && tls.key) http.tls = tls;
    else warnings.push('the site turns TLS on without ssl_certificate and ssl_certificate_key: regate will generate a certificate (regate.tls.generate)');
  } else {
    warnings.push('the site listens without TLS: regate will serve plain HTTP (add http.tls, or regate.tls.generate: true)');
  }
  for (const [what, path] of [['ssl_certificate', tls.certificate], ['ssl_certificate_key', tls.key], ['auth_basic_user_file', usersFile]] as const) {
    if (typeof path === 'string' && !path.startsWith('/')) warnings.push(`${what} ${path} is relative: nginx read it from its prefix or conf directory, regate reads it from its working directory`);
  }

  const config: Record<string, unknown> = { version: '0.1', http };
  if (realm !== undefined || usersFile !== undefined) {
    if (!usersFile) warnings.push('auth_basic without auth_basic_user_file: set auth.htpasswd.path');
    config.auth = { htpasswd: { realm: realm ?? 'registry', path: usersFile ?? './htpasswd/htpasswd' } };
  } else {
    warnings.push('the site has no auth_basic: regate will serve without auth');
  }

  const regate: Record<string, unknown> = {};
  if (ssl && !http.tls) regate.tls = { generate: true };
  if (blobMaxBytes !== undefined && blobMaxBytes !== 0) regate.blobmaxbytes = blobMaxBytes;
  if (pingPaths.length > 0) regate.ping = [...new Set(pingPaths)];

  if (options.embedded) {
    config.storage = { filesystem: { rootdirectory: options.embedded.rootdirectory } };
    if (proxyTargets.length > 0) warnings.push(`embedded: the site's proxy_pass ${proxyTargets[0]} is not used; regate serves the registry from storage.filesystem`);
  } else {
    const target = proxyTargets[0];
    if (!target) throw new NginxImportError('the site has no proxy_pass: nothing to forward to (use --embedded to serve from storage)');
    regate.upstream = { url: upstreamUrl(target, upstreams, warnings), ...(passAuthorization ? { passauthorization: true } : {}), ...(idleTimeout ? { idletimeout: idleTimeout } : {}) };
    if (new Set(proxyTargets).size > 1) warnings.push(`the site proxies to several targets (${[...new Set(proxyTargets)].join(', ')}): regate forwards to the first`);
  }
  if (Object.keys(regate).length > 0) config.regate = regate;
  return { config, builtIn, untranslated, warnings };
}

function upstreamUrl(target: string, upstreams: Map<string, string[]>, warnings: string[]): string {
  const m = /^(https?):\/\/([^/]+)(\/.*)?$/.exec(target);
  if (!m) throw new NginxImportError(`proxy_pass ${target} is not an http:// or https:// target`);
  const [, scheme, host, path] = m;
  if (path && path !== '/') warnings.push(`proxy_pass ${target}: the path ${path} is dropped (regate forwards /v2/ as it comes)`);
  const servers = upstreams.get(host!);
  if (!servers) return `${scheme}://${host}`;
  if (servers.length === 0) throw new NginxImportError(`upstream ${host} has no server`);
  if (servers.length > 1) warnings.push(`upstream ${host} has ${servers.length} servers: regate forwards to the first, ${servers[0]}`);
  return `${scheme}://${servers[0]}`;
}

function directiveValue(block: Node, name: string): string | undefined {
  const node = children(block).find((c) => c.name === name);
  return node ? String(node.value).trim() : undefined;
}

function collectProxyPass(block: Node): string[] {
  const found: string[] = [];
  for (const c of children(block)) {
    if (c.name === 'proxy_pass') found.push(String(c.value));
    if (c.isBlock) found.push(...collectProxyPass(c));
  }
  return found;
}
