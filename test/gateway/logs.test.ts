// The access log and the secrets rule, on a real HTTPS gateway with the log captured: one line per
// request with its id, remote address, user, method, path, status, bytes in/out and duration; JSON or
// text per log.formatter; log.level and log.fields honoured; and no password, base64 credentials or
// Authorization header ever written, whatever the request did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, bytes, pushBlobChunked, sha256, startGateway, type Gateway } from '../support/gateway.js';

const PW = { alice: 'alice-Log-pw-1-Qz', wrong: 'not-Alice-pw-9-Xy', colon: 'co:lon-Log-pw' };
const ALICE: [string, string] = ['alice', PW.alice];

interface AccessLine {
  level: string;
  message: string;
  component: string;
  service: string;
  requestId: string;
  remote: string;
  user: string;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  timestamp: string;
}

function accessLines(gw: Gateway): AccessLine[] {
  return gw.logs
    .map((l) => JSON.parse(l) as AccessLine)
    .filter((l) => l.component === 'access');
}

/** The line for the response carrying this X-Request-Id (written on finish: poll briefly). */
async function lineFor(gw: Gateway, requestId: string | undefined): Promise<AccessLine> {
  assert.ok(requestId, 'X-Request-Id is set');
  for (let i = 0; i < 40; i++) {
    const line = accessLines(gw).find((l) => l.requestId === requestId);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no access line for ${requestId}`);
}

function assertNoSecrets(lines: string[], secrets: string[]): void {
  for (const line of lines) {
    for (const secret of secrets) assert.ok(!line.includes(secret), `a log line contains a secret (${secret.slice(0, 4)}…): ${line}`);
    assert.ok(!/authorization/i.test(line), `a log line mentions Authorization: ${line}`);
  }
}

describe('access log (JSON) and secrets', () => {
  let gw: Gateway;
  let adminPassword: string;
  before(async () => {
    // No users file: the gateway creates one with a random admin password, printed once.
    gw = await startGateway({ config: { log: { formatter: 'json', fields: { service: 'regate-test', site: 'lab' } } } });
    const m = /password: (\S+)/.exec(gw.printed.join(''));
    assert.ok(m, `printed: ${gw.printed.join('')}`);
    adminPassword = m[1]!;
    // Add alice (and a user with a colon in the password) next to admin.
    const { htpasswdLine } = await import('../support/gateway.js');
    const { appendFileSync } = await import('node:fs');
    appendFileSync(gw.htpasswdPath, `${await htpasswdLine('alice', PW.alice)}\n${await htpasswdLine('colon', PW.colon)}\n`);
    await gw.running.users!.checkNow();
  });
  after(async () => gw.close());

  test('one line per request with every field', async () => {
    const res = await gw.send('GET', '/v2/?n=1', { auth: ALICE });
    assert.equal(res.status, 200);
    const line = await lineFor(gw, res.header('x-request-id'));
    assert.equal(line.level, 'info');
    assert.match(line.requestId, /^[0-9a-f-]{36}$/);
    assert.equal(line.remote, '127.0.0.1');
    assert.equal(line.user, 'alice');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/v2/?n=1');
    assert.equal(line.status, 200);
    assert.equal(line.bytesIn, 0);
    assert.equal(line.bytesOut, res.body.length);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(line.durationMs >= 0);
    assert.equal(accessLines(gw).filter((l) => l.requestId === line.requestId).length, 1, 'exactly one line');
  });

  test('unauthenticated and failed requests are logged with user "-"', async () => {
    const ping = await gw.send('GET', '/_ping');
    assert.equal((await lineFor(gw, ping.header('x-request-id'))).user, '-');
    const denied = await gw.send('GET', '/v2/_catalog', { auth: ['alice', PW.wrong] });
    const line = await lineFor(gw, denied.header('x-request-id'));
    assert.equal(line.status, 401);
    assert.equal(line.user, '-');
  });

  test('bytes in and out are the body sizes (chunked upload in, blob download out)', async () => {
    const data = bytes(123_457, 2);
    const start = await gw.send('POST', '/v2/logs/app/blobs/uploads/', { auth: ALICE });
    const { chunked } = await import('../support/gateway.js');
    const patch = await gw.send('PATCH', start.header('location')!, { auth: ALICE, body: chunked(data, 10_000) });
    assert.equal(patch.status, 202);
    assert.equal((await lineFor(gw, patch.header('x-request-id'))).bytesIn, data.length);
    const put = await gw.send('PUT', `${patch.header('location')!}?digest=${sha256(data)}`, { auth: ALICE });
    assert.equal(put.status, 201);
    const get = await gw.send('GET', `/v2/logs/app/blobs/${sha256(data)}`, { auth: ALICE });
    assert.equal(get.status, 200);
    const line = await lineFor(gw, get.header('x-request-id'));
    assert.equal(line.bytesOut, data.length);
    assert.equal(line.user, 'alice');
  });

  test('log.fields ride on every line (access, htpasswd, gateway)', () => {
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.length > 5);
    for (const line of lines) {
      assert.equal(line.service, 'regate-test', JSON.stringify(line));
      assert.equal(line.site, 'lab', JSON.stringify(line));
    }
    assert.ok(lines.some((l) => l.component === 'htpasswd'));
  });

  test('no password, base64 credentials or Authorization header in any log line', async () => {
    // Exercise every path that sees credentials: good, wrong, unknown user, colon password, the
    // generated admin password, malformed headers, throttled and not.
    await gw.send('GET', '/v2/', { auth: ['admin', adminPassword] });
    await gw.send('GET', '/v2/', { auth: ['admin', `${adminPassword}x`] });
    await gw.send('GET', '/v2/', { auth: ['nobody', PW.wrong] });
    await gw.send('GET', '/v2/', { auth: ['colon', PW.colon] });
    await gw.send('GET', `/v2/x/manifests/${PW.wrong}`, { auth: ALICE });
    await gw.send('GET', '/v2/', { auth: `Basic ${Buffer.from(PW.wrong).toString('base64')}` });
    await gw.send('GET', '/v2/', { auth: `Bearer ${PW.wrong}` });
    await pushBlobChunked(gw, 'logs/secret', bytes(1000, 5), ['admin', adminPassword]);
    await new Promise((r) => setTimeout(r, 50));
    const secrets = [PW.alice, PW.colon, adminPassword];
    for (const [user, password] of [['alice', PW.alice], ['admin', adminPassword], ['colon', PW.colon], ['admin', `${adminPassword}x`], ['nobody', PW.wrong]]) {
      secrets.push(basic(user!, password!).slice('Basic '.length));
    }
    assertNoSecrets(gw.logs, secrets);
    // The wrong password appears only where the client put it in the URL path (the access log logs
    // paths); never from a header.
    for (const line of gw.logs) if (line.includes(PW.wrong)) assert.ok(line.includes(`/manifests/${PW.wrong}`), line);
    // The admin password was printed once (stdout), not logged.
    assert.equal(gw.printed.join('').split(adminPassword).length - 1, 1);
  });
});

describe('text format and log.level', () => {
  test('text lines: timestamp, level, message, fields', async () => {
    const gw = await startGateway({ users: { alice: PW.alice }, config: { log: { formatter: 'text', fields: { service: 'txt' } } } });
    try {
      const res = await gw.send('GET', '/v2/', { auth: ALICE });
      const id = res.header('x-request-id')!;
      await new Promise((r) => setTimeout(r, 20));
      const line = gw.logs.find((l) => l.includes(id));
      assert.ok(line, gw.logs.join('\n'));
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info request \{/);
      const fields = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
      assert.equal(fields.user, 'alice');
      assert.equal(fields.status, 200);
      assert.equal(fields.service, 'txt');
      assertNoSecrets(gw.logs, [PW.alice, basic(...ALICE).slice(6)]);
    } finally {
      await gw.close();
    }
  });

  test('log.level warn: no access lines, warnings still written', async () => {
    const gw = await startGateway({ users: { alice: PW.alice }, config: { log: { level: 'warn' }, auth: null } });
    try {
      await gw.send('GET', '/v2/');
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(!gw.logs.some((l) => l.includes('"component":"access"')));
      assert.ok(gw.logs.some((l) => l.includes('no auth configured')));
    } finally {
      await gw.close();
    }
  });

  test('log.accesslog.disabled (Distribution\'s key): no access lines, request ids stay', async () => {
    const gw = await startGateway({ users: { alice: PW.alice }, config: { log: { formatter: 'json', accesslog: { disabled: true } } } });
    try {
      const res = await gw.send('GET', '/v2/');
      assert.equal(res.status, 401);
      assert.ok(res.header('x-request-id'));
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(gw.logs.length > 0, 'other lines are still written');
      assert.ok(!gw.logs.some((l) => l.includes('"component":"access"')));
    } finally {
      await gw.close();
    }
  });
});
