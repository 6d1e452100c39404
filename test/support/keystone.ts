// A real Keystone (Debian's python3-keystone, "Zed") on loopback for one test file: its own
// keystone.conf, sqlite in WAL mode, fernet tokens, bootstrapped admin, served by uwsgi with one
// process and one thread. The pitfalls found running it here (../shared/notes): sqlite must be in
// WAL mode or the first write after start fails "database is locked"; concurrent writers get 500,
// hence one worker; without an in-process cache every token validation costs ≈ 0.5 s;
// password_hash_rounds = 4 keeps a password check ≈ 30 ms. Stopped by PID.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireExecutable, runCommand, spawnServer, waitForHttp, type SpawnedServer } from './processes.js';

export interface KeystoneAnswer {
  status: number;
  headers: Headers;
  body: any;
}

export interface Keystone {
  /** http://127.0.0.1:PORT (the v3 API is under /v3). */
  url: string;
  adminUser: string;
  adminPassword: string;
  adminProject: string;
  /** One call of the identity API; `token` goes into X-Auth-Token. */
  call(method: string, path: string, body?: unknown, token?: string): Promise<KeystoneAnswer>;
  /** A project-scoped admin token. */
  adminToken(): Promise<string>;
  stop(): Promise<void>;
}

export interface KeystoneOptions {
  /** [token] expiration in seconds (Keystone's default is an hour). */
  tokenLifeSeconds?: number;
}

const PYTHON = '/usr/bin/python3';

function keystoneConf(dir: string, tokenLife: number): string {
  return `[DEFAULT]
use_stderr = true
debug = false

[database]
connection = sqlite:///${join(dir, 'keystone.db')}

[token]
provider = fernet
expiration = ${tokenLife}

[fernet_tokens]
key_repository = ${join(dir, 'fernet-keys')}

[fernet_receipts]
key_repository = ${join(dir, 'fernet-keys')}

[credential]
key_repository = ${join(dir, 'credential-keys')}

[cache]
enabled = true
backend = oslo_cache.dict

[identity]
password_hash_rounds = 4
`;
}

export async function startKeystone(options: KeystoneOptions = {}): Promise<Keystone> {
  const manage = requireExecutable('/usr/bin/keystone-manage');
  const uwsgi = requireExecutable('/usr/bin/uwsgi-core');
  const dir = await mkdtemp(join(tmpdir(), 'regate-keystone-'));
  let server: SpawnedServer | undefined;
  const stop = async (): Promise<void> => {
    await server?.stop();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const confPath = join(dir, 'keystone.conf');
    await writeFile(confPath, keystoneConf(dir, options.tokenLifeSeconds ?? 3600));
    const adminPassword = 'keystone-admin-Pa55';
    const steps: string[][] = [
      ['db_sync'],
      ['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
      ['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
      ['bootstrap', '--bootstrap-password', adminPassword, '--bootstrap-admin-url', `${url}/v3/`, '--bootstrap-public-url', `${url}/v3/`,
        '--bootstrap-internal-url', `${url}/v3/`, '--bootstrap-region-id', 'RegionOne'],
    ];
    for (const step of steps) {
      const result = await runCommand(manage, ['--config-file', confPath, ...step], { timeoutMs: 120_000 });
      if (result.code !== 0) throw new Error(`keystone-manage ${step[0]} failed (code ${result.code}):\n${result.stderr.slice(-4000)}`);
    }
    const wal = await runCommand(PYTHON, ['-c', `import sqlite3; print(sqlite3.connect(${JSON.stringify(join(dir, 'keystone.db'))}).execute('PRAGMA journal_mode=WAL').fetchone()[0])`]);
    if (wal.stdout.toString().trim() !== 'wal') throw new Error(`could not switch Keystone's sqlite to WAL: ${wal.stderr}`);

    server = await spawnServer({
      name: 'keystone (uwsgi)',
      command: uwsgi,
      args: ['--plugin-dir', '/usr/lib/uwsgi/plugins', '--plugin', 'python3', '--http-socket', `127.0.0.1:${port}`,
        '--wsgi-file', '/usr/bin/keystone-wsgi-public', '--processes', '1', '--threads', '1', '--die-on-term', '--need-app',
        '--disable-logging'],
      env: { ...process.env, OS_KEYSTONE_CONFIG_FILES: confPath },
      ready: /spawned uWSGI worker 1/,
      timeoutMs: 60_000,
      detached: true,
    });
    const running = server;
    await waitForHttp(`${url}/v3`, { timeoutMs: 60_000, accept: (s) => s === 200, isDead: () => running.exited() });

    const call = async (method: string, path: string, body?: unknown, token?: string): Promise<KeystoneAnswer> => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers['x-auth-token'] = token;
      const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    };
    const adminToken = async (): Promise<string> => {
      const res = await call('POST', '/v3/auth/tokens', {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: adminPassword } } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      });
      const token = res.headers.get('x-subject-token');
      if (res.status !== 201 || !token) throw new Error(`Keystone admin login failed: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return token;
    };
    return { url, adminUser: 'admin', adminPassword, adminProject: 'admin', call, adminToken, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** What provisionRegistryTenant creates: the identities a registry's storage.swift can use. */
export interface RegistryTenant {
  project: { id: string; name: string; domainName: string };
  /** swiftoperator on the project; in a domain of its own (user and project domains differ). */
  user: { id: string; name: string; password: string; domainName: string; domainId: string };
  /** The user's application credential for the project. */
  appCredential: { id: string; name: string; secret: string };
  /** Only `member` on the project: keystoneauth refuses it (operator_roles). */
  memberOnly: { name: string; password: string; domainName: string };
  /** A user of the Default domain that `user` trusts with its role on the project. */
  trustee: { name: string; password: string; trustId: string };
}

async function expect(answer: Promise<KeystoneAnswer>, status: number[], what: string): Promise<any> {
  const res = await answer;
  if (!status.includes(res.status)) throw new Error(`Keystone: ${what} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Registers the object-store service at `objectStoreUrl` (a Swift proxy with authtoken +
 * keystoneauth; `$(project_id)s` is substituted by Keystone) and creates a project with the users a
 * registry authenticates as.
 */
export async function provisionRegistryTenant(keystone: Keystone, objectStoreUrl: string): Promise<RegistryTenant> {
  const admin = await keystone.adminToken();
  const call = (method: string, path: string, body: unknown, what: string, status = [201]): Promise<any> =>
    expect(keystone.call(method, path, body, admin), status, what);

  const service = (await call('POST', '/v3/services', { service: { type: 'object-store', name: 'swift' } }, 'create service')).service;
  for (const iface of ['public', 'internal', 'admin']) {
    await call('POST', '/v3/endpoints', { endpoint: { service_id: service.id, interface: iface, region_id: 'RegionOne', url: `${objectStoreUrl}/v1/AUTH_$(project_id)s` } }, `create ${iface} endpoint`);
  }
  const domain = (await call('POST', '/v3/domains', { domain: { name: 'Team' } }, 'create domain')).domain;
  const project = (await call('POST', '/v3/projects', { project: { name: 'registry', domain_id: 'default' } }, 'create project')).project;
  const roles: Record<string, string> = {};
  for (const name of ['swiftoperator', 'member']) {
    const existing = await expect(keystone.call('GET', `/v3/roles?name=${name}`, undefined, admin), [200], 'list roles');
    roles[name] = existing.roles[0]?.id ?? (await call('POST', '/v3/roles', { role: { name } }, `create role ${name}`)).role.id;
  }
  const createUser = async (name: string, password: string, domainId: string, role: string): Promise<string> => {
    const user = (await call('POST', '/v3/users', { user: { name, password, domain_id: domainId } }, `create user ${name}`)).user;
    await call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${roles[role]}`, undefined, `grant ${role} to ${name}`, [204]);
    return user.id;
  };
  const password = 'registry-user-Pa55';
  const userId = await createUser('registry-writer', password, domain.id, 'swiftoperator');
  await createUser('registry-member', 'member-user-Pa55', domain.id, 'member');
  const trusteeId = (await call('POST', '/v3/users', { user: { name: 'registry-trustee', password: 'trustee-user-Pa55', domain_id: 'default' } }, 'create trustee')).user.id;

  // An application credential and a trust are created by the user itself, with its own scoped token.
  const login = await keystone.call('POST', '/v3/auth/tokens', {
    auth: {
      identity: { methods: ['password'], password: { user: { id: userId, password } } },
      scope: { project: { id: project.id } },
    },
  });
  const userToken = login.headers.get('x-subject-token');
  if (login.status !== 201 || !userToken) throw new Error(`Keystone: registry-writer login answered HTTP ${login.status}`);
  const credential = (await expect(
    keystone.call('POST', `/v3/users/${userId}/application_credentials`, { application_credential: { name: 'regate-ci' } }, userToken),
    [201],
    'create application credential',
  )).application_credential;
  const trust = (await expect(
    keystone.call('POST', '/v3/OS-TRUST/trusts', {
      trust: { trustor_user_id: userId, trustee_user_id: trusteeId, project_id: project.id, impersonation: true, roles: [{ name: 'swiftoperator' }] },
    }, userToken),
    [201],
    'create trust',
  )).trust;

  return {
    project: { id: project.id, name: 'registry', domainName: 'Default' },
    user: { id: userId, name: 'registry-writer', password, domainName: 'Team', domainId: domain.id },
    appCredential: { id: credential.id, name: 'regate-ci', secret: credential.secret },
    memberOnly: { name: 'registry-member', password: 'member-user-Pa55', domainName: 'Team' },
    trustee: { name: 'registry-trustee', password: 'trustee-user-Pa55', trustId: trust.id },
  };
}
