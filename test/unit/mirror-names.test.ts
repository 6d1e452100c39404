// Mirror names (which mirror a repository belongs to, Docker Hub's library/ rule, ns), the Bearer
// challenge parser, and where credentials may go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrorNames } from '../../src/registry/mirror/mirror-names.js';
import { credentialDomain, parseChallenge, realmMayHaveCredentials } from '../../src/registry/mirror/upstream-client.js';
import type { MirrorConfig } from '../../src/config/config-types.js';

const mirror = (name: string, url: string, extra: Partial<MirrorConfig> = {}): MirrorConfig => ({ name, urls: [url], insecureSkipVerify: false, tagTtlMs: 300_000, ttlMs: 0, default: false, ...extra });

test('a name belongs to the mirror its first component names; docker.io keeps Docker Hub\'s library/ rule; ns and the default', () => {
  const names = new MirrorNames({ pullOnly: false, mirrors: [mirror('docker.io', 'https://registry-1.docker.io', { default: true }), mirror('ghcr.io', 'https://ghcr.io')] });
  try {
    assert.equal(names.of('docker.io/library/alpine')?.upstreamName, 'library/alpine');
    assert.equal(names.of('docker.io/alpine')?.upstreamName, 'library/alpine');
    assert.equal(names.of('ghcr.io/org/tool')?.mirror.config.name, 'ghcr.io');
    assert.equal(names.of('ghcr.io/tool')?.upstreamName, 'tool', 'the library/ rule is Docker Hub\'s alone');
    assert.equal(names.of('team/app'), undefined);
    assert.equal(names.of('docker.io'), undefined, 'the bare host names no repository');
    assert.equal(names.of('docker.iox/app'), undefined);
    assert.equal(names.byNamespace('docker.io')?.prefix, 'docker.io/');
    assert.equal(names.byNamespace('registry-1.docker.io')?.prefix, 'docker.io/');
    assert.equal(names.byNamespace('quay.io'), undefined);
    assert.equal(names.defaultMirror?.config.name, 'docker.io');
  } finally {
    names.close();
  }
  const proxy = new MirrorNames({ pullOnly: true, mirrors: [mirror('docker.io', 'https://registry-1.docker.io', { default: true })] });
  try {
    assert.equal(proxy.of('library/alpine')?.upstreamName, 'library/alpine', 'proxy: every name, unprefixed');
    assert.equal(proxy.defaultMirror, undefined);
  } finally {
    proxy.close();
  }
});

test('the Bearer challenge is parsed as RFC 7235 auth-params', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.deepEqual(parseChallenge('bearer realm=https://a.example/t, service="x\\"y"')?.params, { realm: 'https://a.example/t', service: 'x"y' });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
});

test('credentials go to a realm on the upstream\'s own domain only, over TLS unless the upstream itself is plain', () => {
  const hub = new URL('https://registry-1.docker.io');
  assert.equal(credentialDomain('registry-1.docker.io'), 'docker.io');
  assert.equal(credentialDomain('127.0.0.1:5000'), '127.0.0.1');
  assert.ok(realmMayHaveCredentials(hub, new URL('https://auth.docker.io/token')));
  assert.ok(!realmMayHaveCredentials(hub, new URL('https://auth.evil.example/token')));
  assert.ok(!realmMayHaveCredentials(hub, new URL('https://docker.io.evil.example/token')));
  assert.ok(!realmMayHaveCredentials(hub, new URL('http://auth.docker.io/token')), 'not in the clear');
  const local = new URL('http://127.0.0.1:5000');
  assert.ok(realmMayHaveCredentials(local, new URL('http://127.0.0.1:6000/token')));
  assert.ok(!realmMayHaveCredentials(local, new URL('http://localhost:6000/token')));
  assert.ok(!realmMayHaveCredentials(new URL('http://localhost:5000'), new URL('http://127.0.0.1:6000/token')));
});
