// Password verification against hashes made by Debian's Apache `htpasswd` at test time (bcrypt
// $2y$, Apache MD5, {SHA}, plaintext), the $2a$/$2b$ spellings of bcrypt, and hashPassword() output
// checked by Apache's `htpasswd -v`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { classifyHash } from '../../src/auth/htpasswd-file.js';
import {
  DUMMY_BCRYPT_HASH,
  dummyBcryptHash,
  hashPassword,
  MAX_PASSWORD_BYTES,
  validateBcryptCost,
  verifyPassword,
} from '../../src/auth/password.js';
import { makeTempDir, requireExecutable, runChecked, runCommand } from '../support/processes.js';

/** `htpasswd -nb<flags> user password` → the hash (the output is "user:hash\n\n"). */
async function apacheHash(flags: string, password: string, extra: string[] = []): Promise<string> {
  const { stdout } = await runChecked(requireExecutable('htpasswd'), [`-nb${flags}`, ...extra, 'u', password]);
  const line = stdout.toString('utf8').trim();
  assert.ok(line.startsWith('u:'), line);
  return line.slice(2);
}

const PASSWORDS = ['s3cret', 'pässwörd-ünïcödé', 'with:colon and spaces', 'x'];

describe('verifyPassword with hashes from Apache htpasswd', () => {
  const hashes = new Map<string, Map<string, string>>(); // kind → password → hash
  before(async () => {
    requireExecutable('htpasswd');
    for (const [kind, flags, extra] of [
      ['bcrypt', 'B', ['-C', '4']],
      ['apr1', 'm', []],
      ['sha', 's', []],
    ] as const) {
      const byPassword = new Map<string, string>();
      for (const password of PASSWORDS) byPassword.set(password, await apacheHash(flags, password, [...extra]));
      hashes.set(kind, byPassword);
    }
  });

  test('the formats are what the test thinks they are', () => {
    for (const hash of hashes.get('bcrypt')!.values()) assert.match(hash, /^\$2y\$04\$/);
    for (const hash of hashes.get('apr1')!.values()) assert.match(hash, /^\$apr1\$/);
    for (const hash of hashes.get('sha')!.values()) assert.match(hash, /^\{SHA\}/);
  });

  for (const [kind, legacy] of [
    ['bcrypt', undefined],
    ['apr1', 'apr1'],
    ['sha', 'sha'],
  ] as const) {
    test(`${kind}: right password accepted${legacy ? ' and flagged legacy' : ''}, wrong ones refused`, async () => {
      for (const [password, hash] of hashes.get(kind)!) {
        const good = await verifyPassword(password, hash);
        assert.equal(good.ok, true, `${kind} ${JSON.stringify(password)}`);
        assert.equal(good.legacy, legacy);
        for (const wrong of [`${password}x`, password.slice(0, -1), password.toUpperCase() === password ? 'S3CRET' : password.toUpperCase(), '']) {
          assert.equal((await verifyPassword(wrong, hash)).ok, false, `${kind} wrong ${JSON.stringify(wrong)}`);
        }
      }
    });
  }

  test('bcrypt $2y$ (Apache), and the same hash spelled $2a$ and $2b$', async () => {
    const hash = hashes.get('bcrypt')!.get('s3cret')!;
    for (const prefix of ['$2y$', '$2a$', '$2b$']) {
      const spelled = prefix + hash.slice(4);
      assert.equal((await verifyPassword('s3cret', spelled)).ok, true, prefix);
      assert.equal((await verifyPassword('s3creT', spelled)).ok, false, prefix);
    }
  });

  test('bcryptjs $2a$ and $2b$ hashes', async () => {
    const b = await bcrypt.hash('s3cret', 4);
    assert.match(b, /^\$2b\$/);
    const a = '$2a$' + b.slice(4);
    for (const hash of [a, b]) {
      assert.deepEqual(await verifyPassword('s3cret', hash), { ok: true });
      assert.deepEqual(await verifyPassword('s3cre', hash), { ok: false });
    }
  });

  test('plaintext (htpasswd -nbp) is refused, even with the right password', async () => {
    const plain = await apacheHash('p', 's3cret');
    assert.equal(plain, 's3cret');
    const classified = classifyHash(plain);
    assert.ok('error' in classified && /plaintext passwords are not accepted/.test(classified.error));
    assert.deepEqual(await verifyPassword('s3cret', plain), { ok: false });
  });

  test('other schemes (htpasswd -2 sha256-crypt) and garbage are refused', async () => {
    const sha256crypt = await apacheHash('2', 's3cret');
    assert.match(sha256crypt, /^\$5\$/);
    for (const hash of [sha256crypt, '', 'garbage', '$2y$04$short', '{SHA}', DUMMY_BCRYPT_HASH.slice(0, 59)]) {
      assert.deepEqual(await verifyPassword('s3cret', hash), { ok: false }, JSON.stringify(hash));
    }
  });

  test('absurdly long passwords are refused without hashing', async () => {
    const hash = hashes.get('apr1')!.get('x')!;
    assert.deepEqual(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), hash), { ok: false });
  });
});

describe('hashPassword', () => {
  const tmp = makeTempDir('regate-password-test-');
  test('output is bcrypt $2b$ at the cost asked, verified by bcryptjs and Apache htpasswd -v', async () => {
    try {
      const file = join(tmp.path, 'htpasswd');
      for (const password of ['s3cret', 'pässwörd-ünïcödé']) {
        const hash = await hashPassword(password, 4);
        assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
        assert.deepEqual(await verifyPassword(password, hash), { ok: true });
        writeFileSync(file, `u:${hash}\n`);
        const good = await runCommand(requireExecutable('htpasswd'), ['-vb', file, 'u', password]);
        assert.equal(good.code, 0, good.stderr);
        const bad = await runCommand(requireExecutable('htpasswd'), ['-vb', file, 'u', `${password}!`]);
        assert.notEqual(bad.code, 0);
      }
    } finally {
      tmp.remove();
    }
  });

  test('default cost is 10', async () => {
    assert.match(await hashPassword('pw'), /^\$2b\$10\$/);
  });

  test('bad costs and empty passwords are refused', async () => {
    for (const cost of [3, 32, 4.5, NaN, -1]) {
      assert.ok(validateBcryptCost(cost));
      await assert.rejects(hashPassword('pw', cost), RangeError);
    }
    await assert.rejects(hashPassword('', 4), RangeError);
  });

  test('DUMMY_BCRYPT_HASH is a cost-10 bcrypt hash; dummyBcryptHash makes one per cost', async () => {
    assert.match(DUMMY_BCRYPT_HASH, /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    assert.equal(await dummyBcryptHash(10), DUMMY_BCRYPT_HASH);
    const four = await dummyBcryptHash(4);
    assert.match(four, /^\$2b\$04\$/);
    assert.equal(await dummyBcryptHash(4), four, 'memoised');
  });
});
