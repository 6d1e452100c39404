// `regate user add|passwd|rm|list|verify` as an operator runs it (node dist/src/main.js, password on
// stdin), and the files it writes read back by the two other programs that read htpasswd files:
// Apache's `htpasswd -v` and CNCF Distribution 2.8.2 (/usr/bin/docker-registry with
// `auth.htpasswd`, GET /v2/ with Basic credentials). Also: the first-start file of
// ensureHtpasswdFile(), comment/unknown-line preservation, modes, and concurrent edits under the lock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHtpasswdFile } from '../../src/auth/initial-user.js';
import {
  DISTRIBUTION_BINARY,
  makeTempDir,
  REGATE_MAIN,
  requireExecutable,
  runChecked,
  runCommand,
  startDistribution,
  type RegistryHandle,
} from '../support/processes.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/src/main.js user ARGS…` with `input` on stdin (stdin is a pipe, never a TTY). */
function regateUser(args: readonly string[], input?: string, cwd?: string): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [REGATE_MAIN, 'user', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the command may exit before reading stdin
    child.stdin.end(input ?? '');
  });
}

async function ok(args: readonly string[], input?: string): Promise<CliResult> {
  const result = await regateUser(args, input);
  assert.equal(result.code, 0, `regate user ${args.join(' ')} failed:\n${result.stderr}`);
  return result;
}

async function fails(args: readonly string[], message: RegExp, input?: string): Promise<CliResult> {
  const result = await regateUser(args, input);
  assert.equal(result.code, 1, `regate user ${args.join(' ')} should fail:\n${result.stdout}${result.stderr}`);
  assert.match(result.stderr, message);
  return result;
}

async function apacheVerify(file: string, user: string, password: string): Promise<boolean> {
  const result = await runCommand(requireExecutable('htpasswd'), ['-vb', file, user, password]);
  return result.code === 0;
}

async function getV2(registry: RegistryHandle, credentials?: [string, string]): Promise<number> {
  const headers: Record<string, string> = {};
  if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials[0]}:${credentials[1]}`).toString('base64')}`;
  const response = await fetch(`${registry.url}/v2/`, { headers });
  await response.arrayBuffer();
  return response.status;
}

const tmp = makeTempDir('regate-e2e-user-cli-');
const running = new Set<RegistryHandle>();

after(async () => {
  try {
    for (const registry of running) await registry.stop();
  } finally {
    tmp.remove();
  }
});

test('prerequisites: Apache htpasswd and docker-registry are installed', () => {
  requireExecutable('htpasswd');
  requireExecutable(DISTRIBUTION_BINARY);
});

describe('regate user … (files read by Apache htpasswd -v and Distribution 2.8.2)', () => {
  const dir = join(tmp.path, 'cli', 'auth');
  const file = join(dir, 'htpasswd');
  const f = ['--file', file];
  let registry: RegistryHandle;

  before(async () => {
    // add creates the directory (0700) and the file (0600).
    const added = await ok(['add', 'alice', ...f, '--password-stdin', '--cost', '4'], 'alice-pw\n');
    assert.match(added.stdout, /added user "alice"/);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // Default cost (10): the point of this one.
    await ok(['add', 'bob', ...f, '--password-stdin'], 'bob pw with spaces: and colon\r\n');
    const root = join(tmp.path, 'distribution-root');
    mkdirSync(root, { recursive: true });
    registry = await startDistribution({ rootDir: root, extraYaml: `auth:\n  htpasswd:\n    realm: r\n    path: ${file}\n` });
    running.add(registry);
  });

  test('add wrote bcrypt lines: $2b$04 for --cost 4, $2b$10 by default', () => {
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.match(lines[0]!, /^alice:\$2b\$04\$[./A-Za-z0-9]{53}$/);
    assert.match(lines[1]!, /^bob:\$2b\$10\$[./A-Za-z0-9]{53}$/);
    assert.equal(lines[2], '');
  });

  test('Apache htpasswd -v accepts the right passwords and refuses wrong ones', async () => {
    assert.equal(await apacheVerify(file, 'alice', 'alice-pw'), true);
    assert.equal(await apacheVerify(file, 'bob', 'bob pw with spaces: and colon'), true, 'the line ending was stripped, nothing else');
    assert.equal(await apacheVerify(file, 'alice', 'alice-pw '), false);
    assert.equal(await apacheVerify(file, 'bob', 'alice-pw'), false);
  });

  test('Distribution 2.8.2: GET /v2/ → 200 with right credentials, 401 otherwise', async () => {
    assert.equal(await getV2(registry, ['alice', 'alice-pw']), 200);
    assert.equal(await getV2(registry, ['bob', 'bob pw with spaces: and colon']), 200);
    assert.equal(await getV2(registry, ['alice', 'wrong']), 401);
    assert.equal(await getV2(registry, ['nobody', 'alice-pw']), 401);
    assert.equal(await getV2(registry), 401);
  });

  test('list prints the users', async () => {
    assert.equal((await ok(['list', ...f])).stdout, 'alice\nbob\n');
  });

  test('verify: exit 0 for the right password, 1 for a wrong one or an unknown user', async () => {
    assert.match((await ok(['verify', 'alice', ...f, '--password-stdin'], 'alice-pw\n')).stdout, /correct/);
    await fails(['verify', 'alice', ...f, '--password-stdin'], /password verification failed/, 'alice-pw2\n');
    await fails(['verify', 'nobody', ...f, '--password-stdin'], /user "nobody" not found/, 'x\n');
  });

  test('add fails for an existing user; passwd and rm fail for an absent one', async () => {
    await fails(['add', 'alice', ...f, '--password-stdin', '--cost', '4'], /user "alice" already exists/, 'other\n');
    await fails(['passwd', 'nobody', ...f, '--password-stdin', '--cost', '4'], /user "nobody" not found/, 'other\n');
    await fails(['rm', 'nobody', ...f], /user "nobody" not found/);
    assert.equal(await apacheVerify(file, 'alice', 'alice-pw'), true, 'file unchanged');
  });

  test('passwd changes the password in place; Apache and the running Distribution see it', async () => {
    const before = readFileSync(file, 'utf8');
    await ok(['passwd', 'alice', ...f, '--password-stdin', '--cost', '4'], 'alice-new-pw\n');
    const afterText = readFileSync(file, 'utf8');
    assert.equal(afterText.split('\n')[1], before.split('\n')[1], "bob's line untouched");
    assert.match(afterText.split('\n')[0]!, /^alice:/, 'still the first line');
    assert.equal(await apacheVerify(file, 'alice', 'alice-new-pw'), true);
    assert.equal(await apacheVerify(file, 'alice', 'alice-pw'), false);
    // Distribution re-reads the file when its mtime changes.
    assert.equal(await getV2(registry, ['alice', 'alice-new-pw']), 200);
    assert.equal(await getV2(registry, ['alice', 'alice-pw']), 401);
  });

  test('rm removes the user; Distribution refuses it afterwards', async () => {
    assert.match((await ok(['rm', 'bob', ...f])).stdout, /removed user "bob"/);
    assert.equal((await ok(['list', ...f])).stdout, 'alice\n');
    assert.equal(await getV2(registry, ['bob', 'bob pw with spaces: and colon']), 401);
    assert.equal(await getV2(registry, ['alice', 'alice-new-pw']), 200);
  });

  test('the file mode is preserved across edits', async () => {
    chmodSync(file, 0o640);
    await ok(['passwd', 'alice', ...f, '--password-stdin', '--cost', '4'], 'alice-pw-3\n');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    chmodSync(file, 0o600);
  });
});

describe('regate user … edits keep comments and unknown lines, and refuse what would not load', () => {
  test('comments, blank lines and an Apache $apr1$ line survive add/passwd/rm byte for byte', async () => {
    const file = join(tmp.path, 'keep', 'htpasswd');
    mkdirSync(join(tmp.path, 'keep'));
    const apr1 = (await runChecked(requireExecutable('htpasswd'), ['-nbm', 'legacy', 'legacy-pw'])).stdout.toString('utf8').trim();
    const original = `# managed by hand\n\n${apr1}\n   # indented note\n`;
    writeFileSync(file, original);
    await ok(['add', 'carol', '--file', file, '--password-stdin', '--cost', '4'], 'carol-pw\n');
    await ok(['passwd', 'carol', '--file', file, '--password-stdin', '--cost', '4'], 'carol-pw-2\n');
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith(original), text);
    assert.match(text.slice(original.length), /^carol:\$2b\$04\$[./A-Za-z0-9]{53}\n$/);
    assert.equal(await apacheVerify(file, 'legacy', 'legacy-pw'), true);
    const verified = await ok(['verify', 'legacy', '--file', file, '--password-stdin'], 'legacy-pw\n');
    assert.match(verified.stderr, /legacy \$apr1\$ hash/);
    await ok(['rm', 'carol', '--file', file]);
    assert.equal(readFileSync(file, 'utf8'), original);
  });

  test('a file with a broken line: edits are refused with the line number, list exits 1; fixing that user works', async () => {
    const file = join(tmp.path, 'broken', 'htpasswd');
    mkdirSync(join(tmp.path, 'broken'));
    writeFileSync(file, '# users\nmallory:plaintext-password\n');
    const refused = await fails(['add', 'dave', '--file', file, '--password-stdin', '--cost', '4'], /line 2: .*plaintext passwords are not accepted/, 'dave-pw\n');
    assert.doesNotMatch(refused.stderr, /plaintext-password/, 'the line itself is not echoed');
    assert.equal(readFileSync(file, 'utf8'), '# users\nmallory:plaintext-password\n', 'nothing written');
    const listed = await regateUser(['list', '--file', file]);
    assert.equal(listed.code, 1);
    assert.match(listed.stderr, /line 2: .*plaintext/);
    // passwd on the broken user's own line replaces it: the result loads, so it is written.
    await ok(['passwd', 'mallory', '--file', file, '--password-stdin', '--cost', '4'], 'mallory-pw\n');
    assert.equal(await apacheVerify(file, 'mallory', 'mallory-pw'), true);
  });
});

describe('regate user … input checks', () => {
  const file = join(tmp.path, 'checks', 'htpasswd');

  test('no TTY and no --password-stdin: a clear error, nothing written', async () => {
    const result = await runCommand(process.execPath, [REGATE_MAIN, 'user', 'add', 'erin', '--file', file, '--cost', '4']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not a terminal.*--password-stdin/);
    assert.throws(() => statSync(file), /ENOENT/);
  });

  test('bad user names, costs and passwords are refused', async () => {
    await fails(['add', 'a:b', '--file', file, '--password-stdin', '--cost', '4'], /invalid user name: user name contains ':'/, 'pw\n');
    await fails(['add', '#x', '--file', file, '--password-stdin', '--cost', '4'], /invalid user name/, 'pw\n');
    await fails(['add', 'erin', '--file', file, '--password-stdin', '--cost', '3'], /bcrypt cost must be an integer from 4 to 31/, 'pw\n');
    await fails(['add', 'erin', '--file', file, '--password-stdin', '--cost', 'ten'], /bcrypt cost/, 'pw\n');
    await fails(['add', 'erin', '--file', file, '--password-stdin', '--cost', '4'], /the password is empty/, '\n');
    await fails(['add', 'erin', '--file', file, '--password-stdin', '--cost', '4'], /longer than 72 bytes/, `${'x'.repeat(73)}\n`);
    await fails(['list', '--file', file], /does not exist/);
  });

  test('--password-stdin reads only the first line', async () => {
    await ok(['add', 'erin', '--file', file, '--password-stdin', '--cost', '4'], 'first-line\nsecond-line\n');
    assert.equal(await apacheVerify(file, 'erin', 'first-line'), true);
  });

  test('concurrent adds under the lock: every user lands', async () => {
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    const results = await Promise.all(users.map((u) => regateUser(['add', u, '--file', file, '--password-stdin', '--cost', '4'], `${u}-pw\n`)));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const listed = (await ok(['list', '--file', file])).stdout.trim().split('\n');
    assert.deepEqual([...listed].sort(), ['erin', ...users].sort());
    for (const u of users) assert.equal(await apacheVerify(file, u, `${u}-pw`), true);
  });
});

describe('ensureHtpasswdFile (first start)', () => {
  test('creates admin with a random password, 0600 in a 0700 directory, read by Apache and Distribution; never overwrites', async () => {
    const file = join(tmp.path, 'first-start', 'htpasswd', 'htpasswd');
    const created = await ensureHtpasswdFile(file);
    assert.equal(created.created, true);
    assert.ok(created.created);
    assert.equal(created.user, 'admin');
    assert.match(created.password, /^[A-Za-z0-9_-]{20,}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.path, 'first-start', 'htpasswd')).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^admin:\$2b\$10\$[./A-Za-z0-9]{53}$/m);
    assert.equal(await apacheVerify(file, 'admin', created.password), true);

    const root = join(tmp.path, 'first-start-root');
    mkdirSync(root);
    const registry = await startDistribution({ rootDir: root, extraYaml: `auth:\n  htpasswd:\n    realm: r\n    path: ${file}\n` });
    running.add(registry);
    try {
      assert.equal(await getV2(registry, ['admin', created.password]), 200);
      assert.equal(await getV2(registry, ['admin', `${created.password}x`]), 401);
    } finally {
      running.delete(registry);
      await registry.stop();
    }

    assert.deepEqual(await ensureHtpasswdFile(file), { created: false });
    assert.equal(readFileSync(file, 'utf8'), text, 'untouched');
    const again = await ensureHtpasswdFile(join(tmp.path, 'first-start', 'htpasswd', 'other'));
    assert.ok(again.created && again.password !== created.password, 'a fresh password each time');
  });
});
