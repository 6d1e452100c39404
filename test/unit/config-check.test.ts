// `regate config check FILE` through the real CLI: the seeds' configs pass (their certificate and
// users files are not on this machine: notices, exit 0) with every secret masked in the printed
// effective config; a config regate would refuse exits 1 naming the key; nothing is contacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, REGATE_MAIN, runCommand } from '../support/processes.js';

const SEEDS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/seeds');
const check = (file: string) => runCommand(process.execPath, [REGATE_MAIN, 'config', 'check', file], { timeoutMs: 20_000 });

test('seed 003 (Ceph RGW, TLS, htpasswd): exit 0, notices for files not on this machine, secrets masked', async () => {
  const r = await check(join(SEEDS, '003-tls-htpasswd-ceph-config.yml'));
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString('utf8');
  assert.ok(!out.includes('ttQcU1O17DFQ4I9xzKqwgUe7WIYYX99zhcIfU9vb'), 'the Swift password is masked');
  assert.match(out, /password: "\*\*\*"/);
  assert.match(out, /authUrl: http:\/\/172\.27\.132\.66:7480\/auth\/v1/);
  assert.match(r.stderr, /notice: http\.tls\.certificate \/certs\/registry\.pem does not exist on this machine/);
  assert.match(out, /blobDescriptor: inmemory/, 'storage.cache.blobdescriptor is honoured');
  assert.match(r.stderr, /notice: unknown key "log\.fromatter" ignored/);
  assert.match(r.stderr, /regate would start with this configuration/);
});

test('seeds 001 and 002 pass as written', async () => {
  for (const seed of ['001-ceph-swift-config.yml', '002-openstack-swift-keystone-config.yml']) {
    const r = await check(join(SEEDS, seed));
    assert.equal(r.code, 0, `${seed}: ${r.stderr}`);
    assert.ok(!r.stdout.toString().includes('5c8d15f732104053') && !r.stdout.toString().includes('J6X0gj6O4NOMGBPVKbW9Rde4Kx5Fb4ck0TeSJ1pN'));
  }
});

test('a config regate would refuse: exit 1 with the key\'s path; a missing file too', async () => {
  const tmp = makeTempDir('regate-config-check-');
  try {
    const file = join(tmp.path, 'mirror.yml');
    writeFileSync(file, 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nreporting:\n  bugsnag:\n    apikey: k\n');
    const r = await check(file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /mirror\.yml: reporting: is not supported by regate/);
    assert.equal(r.stdout.toString(), '');
    const missing = await check(join(tmp.path, 'nope.yml'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read/);
  } finally {
    tmp.remove();
  }
});
