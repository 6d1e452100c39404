// The two commands the container image leans on: `regate htpasswd` (Apache's display mode, for
// `docker run --entrypoint htpasswd IMAGE -Bbn USER PASSWORD`) and `regate health`'s URL (the
// HEALTHCHECK). The image itself is tested in test/e2e/container-image.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { htpasswdLine, HtpasswdUsageError } from '../../src/cli/htpasswd-command.js';
import { healthUrl } from '../../src/cli/health-command.js';
import { verifyPassword } from '../../src/auth/password.js';

test('htpasswd -Bbn USER PASSWORD prints a bcrypt line that verifies; -C sets the cost; -i reads stdin', async () => {
  const line = await htpasswdLine(['foo', 'foo123'], { B: true, b: true, n: true, C: '5' });
  const [user, hash] = line.split(':') as [string, string];
  assert.equal(user, 'foo');
  assert.match(hash, /^\$2[aby]\$05\$/);
  assert.equal((await verifyPassword('foo123', hash)).ok, true);
  const fromStdin = await htpasswdLine(['bar'], { i: true, n: true, C: '4' }, async () => 'from-stdin');
  assert.equal((await verifyPassword('from-stdin', fromStdin.split(':')[1]!)).ok, true);
});

test('htpasswd refuses what it cannot do, saying why', async () => {
  const refuse = (args: string[], options: Record<string, unknown>, why: RegExp) =>
    assert.rejects(htpasswdLine(args, options), (err: Error) => err instanceof HtpasswdUsageError && why.test(err.message));
  await refuse(['foo', 'pw'], { b: true }, /display mode \(-n\)/);
  await refuse(['foo'], { b: true, n: true }, /-b takes the password/);
  await refuse(['foo', 'pw'], { n: true }, /with -b, or on stdin with -i/);
  await refuse(['fo:o', 'pw'], { b: true, n: true }, /':'/);
  await refuse(['foo', ''], { b: true, n: true }, /empty/);
  await refuse(['foo', 'pw'], { b: true, n: true, C: '40' }, /cost from 4 to 17/);
});

test('the health URL: the first ping path on loopback when regate listens everywhere, /v2/ without pings', () => {
  const config = (host: string, pingPaths: string[]) => ({ http: { host }, regate: { pingPaths } }) as unknown as Parameters<typeof healthUrl>[1];
  assert.equal(healthUrl('https://localhost:5000', config('', ['/_ping', '/'])), 'https://127.0.0.1:5000/_ping');
  assert.equal(healthUrl('https://localhost:5000', config('0.0.0.0', ['/health'])), 'https://127.0.0.1:5000/health');
  assert.equal(healthUrl('http://localhost:5000', config('::', [])), 'http://[::1]:5000/v2/');
  assert.equal(healthUrl('https://10.0.0.5:5000', config('10.0.0.5', ['/_ping'])), 'https://10.0.0.5:5000/_ping');
});
