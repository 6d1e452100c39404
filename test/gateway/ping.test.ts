// /_ping and friends on a real HTTPS gateway: the configured paths answer 200 without auth, and no
// spelling of a path that merely normalises to (or through) one of them does. Request targets are
// sent exactly as written (node's https.request `path`, and a raw TLS socket for the ones a client
// library might refuse), so nothing between the test and the server normalises them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPingBypass, normalisePath } from '../../src/gateway/ping.js';
import { errorCode, rawExchange, startGateway, type Gateway } from '../support/gateway.js';

const ALICE: [string, string] = ['alice', 'alice-ping-pw-1'];

describe('normalisePath (pure)', () => {
  const table: Array<[string, string | undefined, boolean]> = [
    ['/_ping', '/_ping', true],
    ['/', '/', true],
    ['/v1/_ping', '/v1/_ping', true],
    ['/_ping/', '/_ping/', true],
    ['/_ping/../v2/_catalog', '/v2/_catalog', false],
    ['/v2/../_ping', '/_ping', false],
    ['/./_ping', '/_ping', false],
    ['/_ping/.', '/_ping/', false],
    ['//v2/', '//v2/', false],
    ['/%2e%2e/', '/', false],
    ['/_ping%2f..', '/', false],
    ['/_ping/..%2fv2/', '/v2/', false],
    ['/%5fping', '/_ping', false],
    ['/_ping%00', '/_ping\u0000', false],
    ['/_ping\\..\\v2', '/_ping\\..\\v2', false],
    ['/%zz', undefined, false],
    ['http://example/_ping', undefined, false],
    ['*', undefined, false],
  ];
  for (const [raw, path, canonical] of table) {
    test(`${JSON.stringify(raw)} → ${JSON.stringify(path)} ${canonical ? 'canonical' : 'ambiguous'}`, () => {
      const got = normalisePath(raw);
      assert.equal(got.canonical, canonical);
      if (path !== undefined) assert.equal(got.path, path);
    });
  }

  test('bypass only for canonical, listed, case-sensitive paths', () => {
    const list = ['/_ping', '/v1/_ping', '/'];
    assert.equal(isPingBypass('/_ping', list), true);
    assert.equal(isPingBypass('/', list), true);
    for (const p of ['/_PING', '/_ping/', '/%5fping', '/v2/../_ping', '/_ping/../v2/', '//', '/v2/']) assert.equal(isPingBypass(p, list), false, p);
    assert.equal(isPingBypass('/_ping', []), false);
  });
});

describe('ping bypass on a real HTTPS gateway', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] } });
  });
  after(async () => gw.close());

  for (const path of ['/_ping', '/v1/_ping', '/', '/_ping?x', '/_ping?x=1&y=../v2/']) {
    test(`GET ${path} → 200 without credentials`, async () => {
      const res = await gw.send('GET', path);
      assert.equal(res.status, 200);
      assert.equal(res.text(), '{}');
      assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(res.header('x-content-type-options'), 'nosniff');
      assert.equal(res.header('www-authenticate'), undefined);
    });
  }

  test('HEAD /_ping → 200, no body', async () => {
    const res = await gw.send('HEAD', '/_ping');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });

  // Every one of these must be refused without credentials: 401 in the envelope, never 200.
  const attempts = [
    '/_ping/../v2/_catalog',
    '/_ping/../v2/',
    '//v2/',
    '//v2/_catalog',
    '/%2e%2e/',
    '/%2e%2e/v2/_catalog',
    '/_ping%2f..',
    '/_ping%2f..%2fv2%2f_catalog',
    '/_ping/',
    '/_ping/..%2fv2/',
    '/_ping/%2e%2e/v2/_catalog',
    '/%5fping',
    '/%5Fping',
    '/_PING',
    '/_Ping',
    '/v2/../_ping',
    '/v2/_catalog/../../_ping',
    '/./_ping',
    '/_ping/.',
    '/_ping/./',
    '//_ping',
    '/_ping//',
    '/v1/_ping/../../v2/_catalog',
    '/v1//_ping',
    '/_ping;/../v2/',
    '/_ping%00',
    '/_ping%20',
    '/v2/',
    '/v2/_catalog',
    '/v2/alpine/tags/list',
  ];
  for (const path of attempts) {
    test(`GET ${path} is not a bypass (401)`, async () => {
      const res = await gw.send('GET', path);
      assert.equal(res.status, 401, `${path} answered ${res.status}: ${res.text()}`);
      assert.equal(errorCode(res), 'UNAUTHORIZED');
      assert.equal(res.header('www-authenticate'), 'Basic realm="test-realm"');
    });
  }

  test('raw targets over a TLS socket: backslashes and absolute-form are not a bypass', async () => {
    for (const target of ['/_ping\\..\\v2\\_catalog', 'https://127.0.0.1/_ping', '/_ping#frag']) {
      const { text } = await rawExchange(
        { https: true, port: gw.port, ca: gw.ca! },
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      assert.ok(status === '401' || status === '400', `${target} answered ${status}: ${text.slice(0, 200)}`);
      assert.notEqual(status, '200');
    }
  });

  test('only GET and HEAD are answered without auth', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await gw.send(method, '/_ping', { body: '' });
      assert.equal(res.status, 401, method);
    }
  });

  test('with credentials, an ambiguous path is not the registry either', async () => {
    const res = await gw.send('GET', '/_ping/../v2/_catalog', { auth: ALICE });
    assert.equal(res.status, 404);
    assert.equal(errorCode(res), 'UNSUPPORTED');
    const ok = await gw.send('GET', '/v2/_catalog', { auth: ALICE });
    assert.equal(ok.status, 200);
  });
});

describe('the ping list is configurable', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { regate: { ping: ['/healthz'] } } });
  });
  after(async () => gw.close());

  test('/healthz answers, the defaults no longer do', async () => {
    assert.equal((await gw.send('GET', '/healthz')).status, 200);
    for (const path of ['/_ping', '/v1/_ping', '/']) assert.equal((await gw.send('GET', path)).status, 401, path);
  });
});
