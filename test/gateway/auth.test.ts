// Basic auth through the real HTTPS gateway: the 401's exact shape on many paths and methods, the
// same answer for every kind of wrong, a full push/pull with chunked PATCH through auth, live
// rotation of the users file through the server, and per-address throttling with recovery.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { REGATE_MAIN, requireExecutable, runChecked } from '../support/processes.js';
import {
  basic,
  bytes,
  errorCode,
  eventually,
  htpasswdText,
  pushImage,
  sha256,
  startGateway,
  type Gateway,
  type Reply,
} from '../support/gateway.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const PW = {
  alice: 'alice-Auth-pw-1',
  alice2: 'alice-Auth-pw-2',
  bob: 'bob-Auth-pw-1',
  colon: 'pa:ss:wo:rd',
};
const ALICE: [string, string] = ['alice', PW.alice];

function assertUnauthorized(res: Reply, what: string): void {
  assert.equal(res.status, 401, `${what}: status ${res.status} ${res.text()}`);
  assert.equal(res.header('www-authenticate'), 'Basic realm="test-realm"', what);
  assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0', what);
  assert.equal(res.header('x-content-type-options'), 'nosniff', `${what}: configured header`);
  assert.equal(res.header('content-type'), 'application/json', what);
}

describe('401 shape', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ users: { alice: PW.alice, bob: PW.bob } });
  });
  after(async () => gw.close());

  const digest = sha256('x');
  const cases: Array<[string, string]> = [
    ['GET', '/v2/'],
    ['HEAD', '/v2/'],
    ['GET', '/v2'],
    ['GET', '/v2/_catalog'],
    ['GET', '/v2/team/app/tags/list'],
    ['GET', '/v2/team/app/manifests/latest'],
    ['HEAD', '/v2/team/app/manifests/latest'],
    ['PUT', '/v2/team/app/manifests/latest'],
    ['DELETE', '/v2/team/app/manifests/latest'],
    ['GET', `/v2/team/app/blobs/${digest}`],
    ['HEAD', `/v2/team/app/blobs/${digest}`],
    ['POST', '/v2/team/app/blobs/uploads/'],
    ['PATCH', '/v2/team/app/blobs/uploads/0123'],
    ['PUT', `/v2/team/app/blobs/uploads/0123?digest=${digest}`],
    ['GET', `/v2/team/app/referrers/${digest}`],
    ['GET', '/not-the-api'],
  ];
  for (const [method, path] of cases) {
    test(`${method} ${path} without credentials → 401 with the challenge and the envelope`, async () => {
      const res = await gw.send(method, path, method === 'PUT' || method === 'PATCH' || method === 'POST' ? { body: '{}' } : {});
      assertUnauthorized(res, `${method} ${path}`);
      if (method === 'HEAD') assert.equal(res.body.length, 0);
      else assert.deepEqual(res.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    });
  }

  test('every kind of wrong gets the same answer (nothing says which part was wrong)', async () => {
    const variants: Array<[string, string | [string, string] | undefined]> = [
      ['no header', undefined],
      ['known user, wrong password', ['alice', 'wrong-password']],
      ['unknown user', ['mallory', PW.alice]],
      ['unknown user, wrong password', ['mallory', 'wrong-password']],
      ['empty password', ['alice', '']],
      ['password of another user', ['alice', PW.bob]],
      ['other scheme', 'Bearer abc.def.ghi'],
      ['not base64', 'Basic !!!!'],
      ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
      ['scheme only', 'Basic'],
      ['case of the user', ['ALICE', PW.alice]],
    ];
    const answers = new Set<string>();
    for (const [what, auth] of variants) {
      const res = await gw.send('GET', '/v2/', auth === undefined ? {} : { auth });
      assertUnauthorized(res, what);
      answers.add(JSON.stringify([res.status, res.header('www-authenticate'), res.text()]));
    }
    assert.equal(answers.size, 1, [...answers].join('\n'));
  });

  test('good credentials → GET /v2/ 200; scheme is case-insensitive', async () => {
    const res = await gw.send('GET', '/v2/', { auth: ALICE });
    assert.equal(res.status, 200);
    assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
    const lower = await gw.send('GET', '/v2/', { auth: basic(...ALICE).replace('Basic', 'basic') });
    assert.equal(lower.status, 200);
    const head = await gw.send('HEAD', '/v2/', { auth: ALICE });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  test('authenticated, a path outside /v2/ is 404 in the spec envelope', async () => {
    const res = await gw.send('GET', '/not-the-api', { auth: ALICE });
    assert.equal(res.status, 404);
    assert.equal(res.header('content-type'), 'application/json');
    assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(res.json(), { errors: [{ code: 'UNSUPPORTED', message: 'no such API endpoint' }] });
  });

  test('Expect: 100-continue without credentials: 401 and the body is never requested', async () => {
    const { status, continued } = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: gw.port,
          method: 'PATCH',
          path: '/v2/team/app/blobs/uploads/0123',
          ca: gw.ca,
          agent: false,
          headers: { Expect: '100-continue', 'Content-Length': 1024 * 1024 },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end(Buffer.alloc(1024 * 1024));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(status, 401);
    assert.equal(continued, false);
  });
});

describe('push and pull through auth', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ users: { alice: PW.alice, colon: PW.colon } });
  });
  after(async () => gw.close());

  test('a full image push (chunked PATCH) and pull with good credentials', async () => {
    const pushed = await pushImage(gw, 'team/app', '1.0', ALICE);
    const head = await gw.send('HEAD', '/v2/team/app/manifests/1.0', {
      auth: ALICE,
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(head.status, 200);
    assert.equal(head.header('docker-content-digest'), pushed.digest);
    const manifest = await gw.send('GET', `/v2/team/app/manifests/${pushed.digest}`, {
      auth: ALICE,
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(manifest.status, 200);
    assert.ok(manifest.body.equals(pushed.manifest));
    const layer = await gw.send('GET', `/v2/team/app/blobs/${pushed.layerDigest}`, { auth: ALICE });
    assert.equal(layer.status, 200);
    assert.equal(sha256(layer.body), pushed.layerDigest);
    assert.ok(layer.body.equals(pushed.layer));
    const tags = await gw.send('GET', '/v2/team/app/tags/list', { auth: ALICE });
    assert.deepEqual(tags.json(), { name: 'team/app', tags: ['1.0'] });
    // Without credentials, the same content is not reachable.
    assert.equal((await gw.send('GET', `/v2/team/app/blobs/${pushed.layerDigest}`)).status, 401);
  });

  test('a password containing colons works (only the first colon separates user and password)', async () => {
    assert.equal((await gw.send('GET', '/v2/', { auth: ['colon', PW.colon] })).status, 200);
    assert.equal((await gw.send('GET', '/v2/', { auth: ['colon', 'pa'] })).status, 401);
  });

  test('Expect: 100-continue with good credentials: 100 Continue, then the body is taken', async () => {
    const start = await gw.send('POST', '/v2/team/continue/blobs/uploads/', { auth: ALICE });
    const data = bytes(300_000, 11);
    const { status, continued } = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: gw.port,
          method: 'PATCH',
          path: start.header('location')!,
          ca: gw.ca,
          agent: false,
          headers: { Expect: '100-continue', 'Content-Length': data.length, Authorization: basic(...ALICE) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end(data);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(continued, true);
    assert.equal(status, 202);
  });

  test('a monolithic blob upload with a body through auth', async () => {
    const data = bytes(50_000, 9);
    const res = await gw.send('POST', `/v2/team/mono/blobs/uploads/?digest=${sha256(data)}`, {
      auth: ALICE,
      body: data,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(res.status, 201, res.text());
  });
});

describe('live rotation through the server', () => {
  let gw: Gateway;
  before(async () => {
    // The polls below expect refusals while a change settles: they must not trip the throttle.
    gw = await startGateway({ users: { alice: PW.alice, bob: PW.bob }, config: { regate: { auth: { maxfailures: 1000 } } } });
  });
  after(async () => gw.close());

  const status = async (user: string, password: string): Promise<number> => (await gw.send('GET', '/v2/', { auth: [user, password] })).status;

  test('a user removed by rewriting the file in place → 401 within 1 s', async () => {
    assert.equal(await status('bob', PW.bob), 200); // and now cached
    writeFileSync(gw.htpasswdPath, await htpasswdText({ alice: PW.alice }));
    const took = await eventually('bob refused', 1000, async () => (await status('bob', PW.bob)) === 401);
    assert.ok(took <= 1000, `took ${took} ms`);
    assert.equal(await status('alice', PW.alice), 200);
  });

  test('a password changed by mv of a new file → old fails, new works within 1 s', async () => {
    assert.equal(await status('alice', PW.alice), 200);
    const next = `${gw.htpasswdPath}.new`;
    writeFileSync(next, await htpasswdText({ alice: PW.alice2 }));
    renameSync(next, gw.htpasswdPath);
    await eventually('new password accepted', 1000, async () => (await status('alice', PW.alice2)) === 200);
    assert.equal(await status('alice', PW.alice), 401);
  });

  test("Apache's htpasswd -B adding and deleting users → in service within 1 s", async () => {
    const apache = requireExecutable('htpasswd');
    await runChecked(apache, ['-B', '-C', '4', '-b', gw.htpasswdPath, 'carol', 'carol-Auth-pw-1']);
    await eventually('carol accepted', 1000, async () => (await status('carol', 'carol-Auth-pw-1')) === 200);
    await runChecked(apache, ['-D', gw.htpasswdPath, 'carol']);
    await eventually('carol refused', 1000, async () => (await status('carol', 'carol-Auth-pw-1')) === 401);
  });

  test("regate's own CLI (user add / rm) → in service within 1 s", async () => {
    const run = (args: string[], input?: string): Promise<unknown> =>
      new Promise((resolve, reject) => {
        void import('node:child_process').then(({ spawn }) => {
          const child = spawn(process.execPath, [REGATE_MAIN, 'user', ...args, '--file', gw.htpasswdPath], { stdio: ['pipe', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
          child.on('close', (code) => (code === 0 ? resolve(undefined) : reject(new Error(`regate user ${args.join(' ')}: ${code} ${stderr}`))));
          child.stdin.end(input ?? '');
        });
      });
    await run(['add', 'dave', '--password-stdin', '--cost', '4'], 'dave-Auth-pw-1\n');
    await eventually('dave accepted', 1000, async () => (await status('dave', 'dave-Auth-pw-1')) === 200);
    await run(['rm', 'dave']);
    await eventually('dave refused', 1000, async () => (await status('dave', 'dave-Auth-pw-1')) === 401);
  });

  test('a garbage file keeps the last good users in service', async () => {
    writeFileSync(gw.htpasswdPath, 'this is not\nan htpasswd file: at all\n\u0000\u0001\n');
    await sleep(1000);
    assert.equal(await status('alice', PW.alice2), 200);
    assert.equal(await status('alice', PW.alice), 401);
    assert.ok(gw.logs.some((l) => /line \d+/.test(l) && l.includes('keeping the previous')), 'the bad file is logged with line numbers');
    // A good file afterwards is taken again.
    writeFileSync(gw.htpasswdPath, await htpasswdText({ bob: PW.bob }));
    await eventually('bob back', 1000, async () => (await status('bob', PW.bob)) === 200);
    assert.equal(await status('alice', PW.alice2), 401);
  });
});

describe('throttling behind trusted proxies (regate.http.trustedproxies)', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({
      users: { alice: PW.alice },
      config: { regate: { auth: { maxfailures: 3, failurewindow: '1m' }, http: { trustedproxies: ['127.0.0.1'] } } },
    });
  });
  after(async () => gw.close());
  const via = (client: string, auth: [string, string], from = '127.0.0.1'): Promise<Reply> =>
    gw.send('GET', '/v2/', { auth, localAddress: from, headers: { 'x-forwarded-for': client } });

  test('failures count against the client the proxy names, not the proxy: one attacker does not lock everyone out', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await via('198.51.100.66', ['alice', `guess-${i}`])).status, 401);
    assert.equal((await via('198.51.100.66', ALICE)).status, 429, 'the attacker is throttled');
    // Everyone else behind the same proxy still gets in.
    assert.equal((await via('198.51.100.7', ALICE)).status, 200);
    assert.equal((await via('203.0.113.9, 198.51.100.8', ALICE)).status, 200);
    // A forged first hop does not help the attacker: the proxy appended the real one.
    assert.equal((await via('203.0.113.200, 198.51.100.66', ALICE)).status, 429);
    assert.ok(gw.logs.some((l) => l.includes('too many failed logins from 198.51.100.66')));
    // The access log names the client, not the proxy.
    assert.ok(gw.logs.some((l) => /"remote":"198\.51\.100\.7"/.test(l)), 'access log shows the forwarded client');
  });

  test('an untrusted peer cannot pick its address with X-Forwarded-For', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await via(`192.0.2.${i + 1}`, ['alice', `nope-${i}`], '127.0.0.5')).status, 401);
    // All three counted against 127.0.0.5 itself, whatever it claimed.
    assert.equal((await via('192.0.2.99', ALICE, '127.0.0.5')).status, 429);
    assert.ok(gw.logs.some((l) => /"remote":"127\.0\.0\.5"/.test(l)));
  });

  test('a trustedproxies entry that is not an address or CIDR is a config error naming it', async () => {
    await assert.rejects(
      startGateway({ users: { alice: PW.alice }, config: { regate: { http: { trustedproxies: ['10.0.0.0/33'] } } } }),
      /regate\.http\.trustedproxies.*10\.0\.0\.0\/33/,
    );
  });
});

describe('throttling repeated failures per client address', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({
      users: { alice: PW.alice },
      config: { regate: { auth: { maxfailures: 3, failurewindow: '1500ms' } } },
    });
  });
  after(async () => gw.close());

  test('after 3 failures: 429 TOOMANYREQUESTS with Retry-After, other clients unaffected, recovery after the window', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await gw.send('GET', '/v2/', { auth: ['alice', `wrong-${i}`] })).status, 401);
    const refused = await gw.send('GET', '/v2/', { auth: ALICE });
    assert.equal(refused.status, 429);
    assert.equal(errorCode(refused), 'TOOMANYREQUESTS');
    assert.equal(refused.header('docker-distribution-api-version'), 'registry/2.0');
    const retryAfter = Number(refused.header('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${refused.header('retry-after')}`);
    assert.equal(refused.header('www-authenticate'), undefined);
    // Unknown users and wrong passwords from the throttled address: 429 too, without being checked.
    assert.equal((await gw.send('GET', '/v2/', { auth: ['mallory', 'x'] })).status, 429);
    // Requests without credentials are never throttled: they still get the challenge.
    assert.equal((await gw.send('GET', '/v2/')).status, 401);
    // Pings are not behind auth at all.
    assert.equal((await gw.send('GET', '/_ping')).status, 200);

    // Another client address is not locked out, and its own failures are its own.
    assert.equal((await gw.send('GET', '/v2/', { auth: ALICE, localAddress: '127.0.0.2' })).status, 200);
    assert.equal((await gw.send('GET', '/v2/', { auth: ['alice', 'nope'], localAddress: '127.0.0.2' })).status, 401);

    // After the window, the same client's correct credentials work again.
    await sleep(retryAfter * 1000 + 200);
    assert.equal((await gw.send('GET', '/v2/', { auth: ALICE })).status, 200);
    assert.ok(gw.logs.some((l) => l.includes('too many failed logins from 127.0.0.1')));
  });

  test('a burst of parallel guesses runs at most maxfailures checks', async () => {
    await sleep(1600); // a fresh window
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => gw.send('GET', '/v2/', { auth: ['alice', `burst-${i}`], localAddress: '127.0.0.3' })),
    );
    const counts = results.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    assert.ok((counts[401] ?? 0) <= 3, JSON.stringify(counts));
    assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), 12, JSON.stringify(counts));
  });

  test('parallel requests with the same good credentials are not throttled', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => gw.send('GET', '/v2/', { auth: ALICE, localAddress: '127.0.0.4' })));
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
  });
});
