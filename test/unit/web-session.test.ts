// WebSessions alone: expiry, revocation, the stamp of the user's hash, and a key another replica
// replaced (the cookie is checked again with the key read anew, once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MAX_SIGN_IN_MS, WebSessions, SESSION_COOKIE, type SessionKey } from '../../src/gateway/web-session.js';

function keyOf(initial: Buffer): SessionKey & { replace(next: Buffer): void; refreshes: number } {
  let current = initial;
  let stored = initial;
  const key = {
    refreshes: 0,
    get: async () => current,
    refresh: async () => {
      key.refreshes++;
      const changed = !stored.equals(current);
      current = stored;
      return changed;
    },
    replace(next: Buffer) {
      stored = next;
    },
  };
  return key;
}

const cookieHeader = (setCookie: string): string => setCookie.split(';')[0]!;

test('a session lasts its ttl, ends at revoke, and ends when the user or their hash changes', async () => {
  let now = 1_000_000;
  const users = new Map([['alice', '$2y$04$first']]);
  const sessions = new WebSessions({ key: keyOf(randomBytes(32)), users: { hashOf: (u) => users.get(u) }, ttlMs: 60_000, now: () => now });
  const issued = (await sessions.issue('alice'))!;
  assert.ok(issued.cookie.startsWith(`${SESSION_COOKIE}=`));
  const header = cookieHeader(issued.cookie);
  assert.equal((await sessions.fromCookieHeader(header))?.user, 'alice');
  assert.equal((await sessions.fromCookieHeader(`other=1; ${header}`))?.csrf, issued.session.csrf);
  now += 59_999;
  assert.ok(await sessions.fromCookieHeader(header));
  now += 1;
  assert.equal(await sessions.fromCookieHeader(header), undefined, 'expired');

  now = 1_000_000;
  users.set('alice', '$2y$04$second');
  assert.equal(await sessions.fromCookieHeader(header), undefined, 'the password changed');
  users.delete('alice');
  assert.equal(await sessions.issue('alice'), undefined, 'no session for a user not in the file');

  users.set('alice', '$2y$04$second');
  const again = (await sessions.issue('alice'))!;
  const other = (await sessions.issue('alice'))!;
  await sessions.revoke(again.session);
  assert.equal(await sessions.fromCookieHeader(cookieHeader(again.cookie)), undefined, 'revoked');
  assert.ok(await sessions.fromCookieHeader(cookieHeader(other.cookie)), 'another session of the same user stays');
  assert.notEqual(again.session.csrf, other.session.csrf);

  // A renewal keeps the sign-in (and its CSRF token), and a logout ends every cookie renewed from it.
  const signIn = (await sessions.issue('alice'))!;
  now += 30_000;
  const renewed = (await sessions.issue('alice', signIn.session))!;
  assert.equal(renewed.session.signInId, signIn.session.signInId);
  assert.equal(renewed.session.csrf, signIn.session.csrf);
  assert.equal(renewed.session.expiresAt, now + 60_000);
  await sessions.revoke(signIn.session);
  assert.equal(await sessions.fromCookieHeader(cookieHeader(renewed.cookie)), undefined, 'the renewed cookie goes with its sign-in');
});

test('renewing never carries a sign-in past MAX_SIGN_IN_MS', async () => {
  let now = 5_000_000;
  const sessions = new WebSessions({ key: keyOf(randomBytes(32)), users: { hashOf: () => '$2y$04$h' }, ttlMs: 3_600_000, now: () => now });
  let current = (await sessions.issue('carol'))!;
  const started = now;
  for (let hours = 0; hours < 13; hours++) {
    now += 1_800_000;
    const session = await sessions.fromCookieHeader(cookieHeader(current.cookie));
    if (!session) break;
    current = (await sessions.issue('carol', session))!;
  }
  assert.ok(current.session.expiresAt <= started + MAX_SIGN_IN_MS);
  now = started + MAX_SIGN_IN_MS;
  assert.equal(await sessions.fromCookieHeader(cookieHeader(current.cookie)), undefined);
});

test('a cookie signed with a key another replica wrote later is accepted after one re-read; garbage is not', async () => {
  const first = randomBytes(32);
  const second = randomBytes(32);
  const users = { hashOf: () => '$2y$04$h' };
  const mine = keyOf(first);
  const theirs = keyOf(second);
  const here = new WebSessions({ key: mine, users, ttlMs: 60_000 });
  const there = new WebSessions({ key: theirs, users, ttlMs: 60_000 });
  const cookie = cookieHeader((await there.issue('bob'))!.cookie);
  assert.equal(await here.fromCookieHeader(cookie), undefined, 'not while this replica holds the old key');
  mine.replace(second);
  assert.equal((await here.fromCookieHeader(cookie))?.user, 'bob');
  const refreshes = mine.refreshes;
  for (const junk of [`${SESSION_COOKIE}=a.b.c`, `${SESSION_COOKIE}=%%%`, `${SESSION_COOKIE}=${Buffer.from('{"u":1}').toString('base64url')}.x`]) {
    assert.equal(await here.fromCookieHeader(junk), undefined, junk);
  }
  assert.ok(mine.refreshes - refreshes <= 1, 'a malformed cookie is refused before the key is read again');
});
