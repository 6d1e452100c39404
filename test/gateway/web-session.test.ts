// The web page's sign-in through a running gateway: the cookie's attributes, logout, the session
// ending within a second when the user is removed or their password changes, the same throttle as
// Basic auth (429), the CSRF token on changes, a forged or tampered cookie, and a cookie signed by
// one replica accepted by another on the same storage (the key is shared through storage).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorCode, eventually, htpasswdText, startGateway, type Gateway, type Reply } from '../support/gateway.js';

const ALICE: [string, string] = ['alice', 'wonderland-7'];
const BOB: [string, string] = ['bob', 'builder-99'];
const PAGE = { 'X-Regate-Page': '1' };

let gw: Gateway;

before(async () => {
  gw = await startGateway({ users: { [ALICE[0]]: ALICE[1], [BOB[0]]: BOB[1] }, config: { storage: { delete: { enabled: true } }, regate: { auth: { maxfailures: 5 } } } });
});
after(async () => {
  await gw?.close();
});

async function writeUsers(users: Record<string, string>): Promise<void> {
  writeFileSync(`${gw.htpasswdPath}.next`, await htpasswdText(users), { mode: 0o600 });
  renameSync(`${gw.htpasswdPath}.next`, gw.htpasswdPath);
}

async function login(user: string, password: string, target: Gateway = gw, from?: string): Promise<Reply> {
  return target.send('POST', '/ui/login', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }), ...(from ? { localAddress: from } : {}) });
}

/** The cookie a successful login set, as a Cookie header. */
function cookieOf(reply: Reply): string {
  const set = reply.headers['set-cookie'];
  assert.ok(set && set.length === 1, 'one Set-Cookie');
  return set[0]!.split(';')[0]!;
}

const whoAmI = (cookie: string, target: Gateway = gw): Promise<Reply> => target.send('GET', '/ui/session', { headers: { ...PAGE, Cookie: cookie } });

describe('web page sessions', () => {
  it('sign in with the form: an HttpOnly, Secure, SameSite=Strict __Host- cookie that the API accepts; a wrong password gets the same 401 as Basic auth, without a challenge', async () => {
    const reply = await login(...ALICE);
    assert.equal(reply.status, 200, reply.text());
    const set = reply.headers['set-cookie']![0]!;
    assert.match(set, /^__Host-regate-session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);
    for (const attribute of [/; HttpOnly/i, /; Secure/i, /; SameSite=Strict/i, /; Path=\/(;|$)/, /; Max-Age=3600/]) assert.match(set, attribute);
    assert.doesNotMatch(set, /Domain=/i);
    assert.equal(reply.header('cache-control'), 'no-store');
    const cookie = cookieOf(reply);
    const me = await whoAmI(cookie);
    assert.equal(me.status, 200);
    assert.equal(me.json().user, 'alice');
    assert.equal(me.json().by, 'session');
    assert.equal((await gw.send('GET', '/v2/_catalog', { headers: { Cookie: cookie } })).status, 200);

    const wrong = await login(ALICE[0], 'not-it');
    assert.equal(wrong.status, 401);
    assert.equal(errorCode(wrong), 'UNAUTHORIZED');
    assert.equal(wrong.header('www-authenticate'), undefined);
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.equal((await login('nobody', 'x')).status, 401);
    // The page's own requests get no challenge (its form, not the browser's dialog); others do.
    const anonymous = await gw.send('GET', '/ui/session', { headers: PAGE });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.header('www-authenticate'), undefined);
    assert.match((await gw.send('GET', '/ui/session')).header('www-authenticate') ?? '', /^Basic realm="test-realm"$/);
    // Only JSON signs in: a form on another site cannot post one without CORS, which is never granted.
    const form = await gw.send('POST', '/ui/login', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=alice&password=wonderland-7' });
    assert.equal(form.status, 415);
    assert.equal((await gw.send('POST', '/ui/login', { headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(5000) })).status, 400);
  });

  it('a tampered, forged or expired-looking cookie is nobody', async () => {
    const cookie = cookieOf(await login(...ALICE));
    const [name, value] = cookie.split('=') as [string, string];
    const [body, signature] = value.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as { u: string; e: number };
    const asBob = Buffer.from(JSON.stringify({ ...payload, u: 'bob' })).toString('base64url');
    const longer = Buffer.from(JSON.stringify({ ...payload, e: payload.e + 86_400_000 })).toString('base64url');
    for (const forged of [`${name}=${asBob}.${signature}`, `${name}=${longer}.${signature}`, `${name}=${body}.${signature.slice(0, -2)}AA`, `${name}=${body}`, `${name}=`]) {
      const reply = await whoAmI(forged);
      assert.equal(reply.status, 401, forged);
      assert.equal((await gw.send('GET', '/v2/_catalog', { headers: { Cookie: forged } })).status, 401);
    }
  });

  it('logout ends the session: the old cookie no longer works', async () => {
    const cookie = cookieOf(await login(...ALICE));
    const me = await whoAmI(cookie);
    const csrf = me.json().csrf as string;
    const out = await gw.send('POST', '/ui/logout', { headers: { ...PAGE, Cookie: cookie, 'X-Regate-Csrf': csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers['set-cookie']![0]!, /^__Host-regate-session=; Max-Age=0;/);
    assert.equal((await whoAmI(cookie)).status, 401);
    assert.equal((await gw.send('GET', '/v2/_catalog', { headers: { Cookie: cookie } })).status, 401);
  });

  it('a change needs the CSRF token as well as the cookie; a GET never changes anything', async () => {
    const cookie = cookieOf(await login(...ALICE));
    const csrf = (await whoAmI(cookie)).json().csrf as string;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, layers: [] }));
    const empty = await gw.send('POST', '/v2/csrf/app/blobs/uploads/?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', { auth: ALICE, body: '{}' });
    assert.equal(empty.status, 201);
    assert.equal((await gw.send('PUT', '/v2/csrf/app/manifests/v1', { auth: ALICE, body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
    const without = await gw.send('DELETE', '/v2/csrf/app/manifests/v1', { headers: { Cookie: cookie } });
    assert.equal(without.status, 403);
    assert.equal(errorCode(without), 'DENIED');
    const wrong = await gw.send('DELETE', '/v2/csrf/app/manifests/v1', { headers: { Cookie: cookie, 'X-Regate-Csrf': `${csrf.slice(0, -1)}x` } });
    assert.equal(wrong.status, 403);
    assert.equal((await gw.send('GET', '/v2/csrf/app/tags/list', { headers: { Cookie: cookie } })).json().tags.length, 1, 'still tagged');
    const logoutWithout = await gw.send('POST', '/ui/logout', { headers: { Cookie: cookie } });
    assert.equal(logoutWithout.status, 403, 'not even logout goes without it');
    const done = await gw.send('DELETE', '/v2/csrf/app/manifests/v1', { headers: { Cookie: cookie, 'X-Regate-Csrf': csrf } });
    assert.equal(done.status, 202, done.text());
  });

  it('removing the user, or changing their password, ends their sessions within a second; Basic auth behaves the same', async () => {
    const bob = cookieOf(await login(...BOB));
    const alice = cookieOf(await login(...ALICE));
    assert.equal((await whoAmI(bob)).status, 200);
    await writeUsers({ [ALICE[0]]: ALICE[1] });
    const removed = await eventually('bob signed out', 1000, async () => (await whoAmI(bob)).status === 401, 20);
    assert.ok(removed <= 1000, `${removed} ms`);
    assert.equal((await whoAmI(alice)).status, 200, 'the others stay signed in');
    await writeUsers({ [ALICE[0]]: 'a-new-password', [BOB[0]]: 'builder-100' });
    await eventually('alice signed out by the new password', 1000, async () => (await whoAmI(alice)).status === 401, 20);
    assert.equal((await whoAmI(bob)).status, 401, 'bob coming back with a new password does not revive his old session');
    assert.equal((await login(ALICE[0], 'a-new-password')).status, 200);
    await writeUsers({ [ALICE[0]]: ALICE[1], [BOB[0]]: BOB[1] });
    // Read the file now rather than poll with logins, which would count as failures until then.
    await gw.running.reload();
    assert.equal((await login(...ALICE)).status, 200);
  });

  it('the form is throttled with Basic auth: wrong passwords from either count together, then 429 even for the right one', async () => {
    const from = '127.0.0.7';
    for (let i = 0; i < 3; i++) assert.equal((await login(ALICE[0], `guess-${i}`, gw, from)).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await gw.send('GET', '/v2/', { auth: [ALICE[0], `basic-guess-${i}`], localAddress: from })).status, 401);
    const blocked = await login(...ALICE, gw, from);
    assert.equal(blocked.status, 429);
    assert.equal(errorCode(blocked), 'TOOMANYREQUESTS');
    assert.match(blocked.header('retry-after') ?? '', /^\d+$/);
    assert.equal((await login(...ALICE)).status, 200, 'other addresses are not affected');
  });

  it('a cookie one replica signed works on another replica over the same storage; a replica in front of an upstream signs its own', async () => {
    const twin = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { storage: { filesystem: { rootdirectory: gw.storageRoot } } } });
    try {
      const cookie = cookieOf(await login(...ALICE));
      const there = await whoAmI(cookie, twin);
      assert.equal(there.status, 200, there.text());
      assert.equal(there.json().user, 'alice');
      const back = cookieOf(await login(...ALICE, twin));
      assert.equal((await whoAmI(back)).status, 200);
      // A logout at one replica ends the sign-in at the other within about a second.
      const csrf = there.json().csrf as string;
      assert.equal((await twin.send('POST', '/ui/logout', { headers: { ...PAGE, Cookie: cookie, 'X-Regate-Csrf': csrf } })).status, 200);
      const gone = await eventually('the logout seen by the other replica', 2000, async () => (await whoAmI(cookie)).status === 401, 50);
      assert.ok(gone <= 1500, `${gone} ms`);
    } finally {
      await twin.close();
    }
  });

  it('in front of an upstream, the session cookie and the page headers stay at the gateway, and the upstream\'s cookies do not reach the browser', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const upstream = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Set-Cookie': 'tracker=1' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const front = await startGateway({ users: { [ALICE[0]]: ALICE[1] }, config: { storage: null, regate: { upstream: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } } } });
    try {
      const cookie = cookieOf(await login(...ALICE, front));
      const csrf = (await whoAmI(cookie, front)).json().csrf as string;
      const reply = await front.send('GET', '/v2/', { headers: { ...PAGE, Cookie: cookie, 'X-Regate-Csrf': csrf } });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['set-cookie'], undefined);
      assert.equal(seen.length, 1);
      for (const name of ['cookie', 'x-regate-csrf', 'x-regate-page', 'authorization']) assert.equal(seen[0]![name], undefined, name);
    } finally {
      await front.close();
      upstream.close();
    }
  });
});
