// Table tests of the gateway's pure parts: Basic credential parsing, the throttle (with a clock),
// client address keys, which limit applies to a body, and accepted transfer codings.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBasicAuthorization } from '../../src/gateway/basic-auth.js';
import { addressKey, AuthThrottle } from '../../src/gateway/throttle.js';
import { bodyLimitFor } from '../../src/gateway/limits.js';
import { acceptableTransferEncoding } from '../../src/gateway/chunked.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('parseBasicAuthorization', () => {
  const table: Array<[string | undefined, { user: string; password: string } | undefined]> = [
    [undefined, undefined],
    [`Basic ${b64('alice:pw')}`, { user: 'alice', password: 'pw' }],
    [`basic ${b64('alice:pw')}`, { user: 'alice', password: 'pw' }],
    [`BASIC   ${b64('alice:pw')}  `, { user: 'alice', password: 'pw' }],
    [`Basic ${b64('alice:p:w:')}`, { user: 'alice', password: 'p:w:' }],
    [`Basic ${b64('alice:')}`, { user: 'alice', password: '' }],
    [`Basic ${b64('élodie:mot de passe ü')}`, { user: 'élodie', password: 'mot de passe ü' }],
    [`Basic ${b64(':pw')}`, undefined],
    [`Basic ${b64('alice')}`, undefined],
    ['Basic', undefined],
    ['Basic !!!', undefined],
    [`Bearer ${b64('alice:pw')}`, undefined],
    [`Basic ${b64('alice:pw')} extra`, undefined],
    [`Digest ${b64('alice:pw')}`, undefined],
  ];
  for (const [header, expected] of table) {
    test(JSON.stringify(header), () => assert.deepEqual(parseBasicAuthorization(header), expected));
  }
});

describe('addressKey', () => {
  const table: Array<[string | undefined, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.0.0.7', '10.0.0.7'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ];
  for (const [address, key] of table) test(`${address} → ${key}`, () => assert.equal(addressKey(address), key));
});

describe('AuthThrottle', () => {
  function clocked(maxFailures = 3, windowMs = 1000, maxAddresses?: number) {
    let now = 1_000_000;
    const throttle = new AuthThrottle({ maxFailures, windowMs, now: () => now, ...(maxAddresses ? { maxAddresses } : {}) });
    return { throttle, tick: (ms: number) => (now += ms) };
  }
  const fail = (t: AuthThrottle, address: string, credential: string): boolean => {
    const a = t.admit(address, credential);
    assert.ok(a.ok, 'admitted');
    return t.settle(a.ticket, false);
  };

  test('blocks after maxFailures, for the window, then starts afresh', () => {
    const { throttle, tick } = clocked();
    assert.equal(fail(throttle, 'a', 'x1'), false);
    assert.equal(fail(throttle, 'a', 'x2'), false);
    assert.equal(fail(throttle, 'a', 'x3'), true, 'the third failure starts the block');
    const refused = throttle.admit('a', 'good');
    assert.deepEqual(refused, { ok: false, retryAfterSeconds: 1, blockedNow: false });
    assert.ok(throttle.admit('b', 'good').ok, 'another address is not affected');
    tick(999);
    assert.equal(throttle.admit('a', 'good').ok, false);
    tick(2);
    const again = throttle.admit('a', 'good');
    assert.ok(again.ok);
    throttle.settle(again.ticket, true);
  });

  test('failures spread over more than a window do not add up', () => {
    const { throttle, tick } = clocked();
    fail(throttle, 'a', 'x1');
    fail(throttle, 'a', 'x2');
    tick(1001);
    assert.equal(fail(throttle, 'a', 'x3'), false);
    assert.equal(fail(throttle, 'a', 'x4'), false);
    assert.equal(fail(throttle, 'a', 'x5'), true);
  });

  test('distinct credentials in flight count; identical ones count once', () => {
    const { throttle } = clocked();
    const same = [throttle.admit('a', 'k'), throttle.admit('a', 'k'), throttle.admit('a', 'k'), throttle.admit('a', 'k')];
    assert.ok(same.every((s) => s.ok));
    const d1 = throttle.admit('a', 'd1');
    const d2 = throttle.admit('a', 'd2');
    assert.ok(d1.ok && d2.ok);
    const d3 = throttle.admit('a', 'd3');
    assert.equal(d3.ok, false, 'three distinct checks already in flight');
    for (const s of same) if (s.ok) throttle.settle(s.ticket, true);
    assert.ok(throttle.admit('a', 'd3').ok);
  });

  test('successes do not reset failures, and the table is bounded', () => {
    const { throttle } = clocked(3, 1000, 5);
    fail(throttle, 'a', 'x1');
    const good = throttle.admit('a', 'good');
    assert.ok(good.ok);
    throttle.settle(good.ticket, true);
    fail(throttle, 'a', 'x2');
    assert.equal(fail(throttle, 'a', 'x3'), true);
    for (let i = 0; i < 20; i++) fail(throttle, `other-${i}`, 'x');
    assert.ok(throttle.size <= 5);
  });
});

describe('bodyLimitFor', () => {
  const limits = { blobMaxBytes: 100, manifestMaxBytes: 10 };
  const table: Array<[string, string, number, string]> = [
    ['POST', '/v2/a/blobs/uploads/', 100, 'blob'],
    ['POST', '/v2/a/blobs/uploads/?digest=sha256:x', 100, 'blob'],
    ['DELETE', '/v2/a/blobs/uploads/123', 10, 'manifest'],
    ['PATCH', '/v2/a/b/blobs/uploads/123', 100, 'blob'],
    ['PUT', '/v2/a/blobs/uploads/123?digest=sha256:x', 100, 'blob'],
    ['PUT', '/v2/a/manifests/latest', 10, 'manifest'],
    ['GET', '/v2/a/blobs/uploads/123', 10, 'manifest'],
    ['POST', '/v2/a/manifests/x', 10, 'manifest'],
  ];
  for (const [method, path, limit, kind] of table) {
    test(`${method} ${path}`, () => assert.deepEqual(bodyLimitFor(method, path, limits), { limit, kind }));
  }
});

test('acceptableTransferEncoding', () => {
  assert.equal(acceptableTransferEncoding(undefined), true);
  assert.equal(acceptableTransferEncoding('chunked'), true);
  assert.equal(acceptableTransferEncoding(' Chunked '), true);
  assert.equal(acceptableTransferEncoding('gzip, chunked'), false);
  assert.equal(acceptableTransferEncoding('identity'), false);
});
