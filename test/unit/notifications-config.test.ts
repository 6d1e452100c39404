// notifications: Distribution's keys, its defaults, and every misspelt key refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, validateConfig } from '../../src/config/load-config.js';
import { maskEndpointHeaders } from '../../src/cli/config-command.js';

const base = { version: '0.1', storage: { inmemory: {} } };
const withNotifications = (notifications: unknown): ReturnType<typeof validateConfig> => validateConfig({ ...base, notifications }, 't.yml', '/');

test('an endpoint with every key, as Distribution documents them', () => {
  const c = withNotifications({
    events: { includereferences: true },
    endpoints: [
      {
        name: 'ci',
        disabled: false,
        url: 'https://ci.example/hook',
        headers: { Authorization: ['Bearer t0ken'], 'X-Two': ['a', 'b'] },
        timeout: '500ms',
        threshold: 5,
        backoff: '2s',
        ignoredmediatypes: ['application/octet-stream'],
        ignore: { mediatypes: ['application/vnd.oci.image.index.v1+json'], actions: ['pull', 'mount'] },
      },
    ],
  });
  assert.deepEqual(c.notifications, {
    includeReferences: true,
    endpoints: [
      {
        name: 'ci',
        disabled: false,
        url: 'https://ci.example/hook',
        headers: { Authorization: ['Bearer t0ken'], 'X-Two': ['a', 'b'] },
        timeoutMs: 500,
        threshold: 5,
        backoffMs: 2000,
        ignoredMediaTypes: ['application/vnd.oci.image.index.v1+json', 'application/octet-stream'],
        ignoredActions: ['pull', 'mount'],
      },
    ],
  });
  assert.deepEqual(maskEndpointHeaders(c).notifications!.endpoints[0]!.headers, { Authorization: ['***'], 'X-Two': ['***'] });
});

test("Distribution's defaults: timeout 1s, threshold 10, backoff 1s (also for zero values)", () => {
  const c = withNotifications({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:9/x' }, { name: 'b', url: 'http://h/', timeout: '0', threshold: 0, backoff: '0' }] });
  for (const e of c.notifications!.endpoints) {
    assert.equal(e.timeoutMs, 1000);
    assert.equal(e.threshold, 10);
    assert.equal(e.backoffMs, 1000);
    assert.deepEqual(e.headers, {});
    assert.deepEqual(e.ignoredActions, []);
  }
  assert.equal(c.notifications!.includeReferences, false);
});

test('only disabled endpoints: nothing to send, a notice, no notifier', () => {
  const c = withNotifications({ endpoints: [{ name: 'off', url: 'http://x', disabled: true }] });
  assert.equal(c.notifications, undefined);
  assert.ok(c.warnings.some((w) => w.startsWith('notifications:')));
});

test('misspelt keys and bad values are refused, naming the key', () => {
  const ok = { name: 'ci', url: 'http://ci/hook' };
  const cases: Array<[unknown, string]> = [
    [{ endpoint: [ok] }, 'notifications.endpoint'],
    [{ events: { includereference: true } }, 'notifications.events.includereference'],
    [{ events: { includereferences: 'yes' } }, 'notifications.events.includereferences'],
    [{ endpoints: [{ ...ok, timout: '1s' }] }, 'notifications.endpoints[0].timout'],
    [{ endpoints: [ok, { ...ok, ignoredmediatype: [] }] }, 'notifications.endpoints[1].ignoredmediatype'],
    [{ endpoints: [{ ...ok, ignore: { action: ['pull'] } }] }, 'notifications.endpoints[0].ignore.action'],
    [{ endpoints: [{ ...ok, ignore: { actions: ['pul'] } }] }, 'notifications.endpoints[0].ignore.actions'],
    [{ endpoints: [{ ...ok, ignore: { mediatypes: 'x' } }] }, 'notifications.endpoints[0].ignore.mediatypes'],
    [{ endpoints: [{ name: 'ci' }] }, 'notifications.endpoints[0].url'],
    [{ endpoints: [{ ...ok, url: 'ftp://ci/hook' }] }, 'notifications.endpoints[0].url'],
    [{ endpoints: [{ ...ok, timeout: 5 }] }, 'notifications.endpoints[0].timeout'],
    [{ endpoints: [{ ...ok, backoff: 'soon' }] }, 'notifications.endpoints[0].backoff'],
    [{ endpoints: [{ ...ok, threshold: 'ten' }] }, 'notifications.endpoints[0].threshold'],
    [{ endpoints: [{ ...ok, headers: ['Authorization: x'] }] }, 'notifications.endpoints[0].headers'],
    [{ endpoints: [{ ...ok, headers: { 'X-A': ['a\r\nInjected: 1'] } }] }, 'notifications.endpoints[0].headers.X-A'],
    [{ endpoints: [{ ...ok, disabled: 'no' }] }, 'notifications.endpoints[0].disabled'],
    [{ endpoints: { ci: ok } }, 'notifications.endpoints'],
  ];
  for (const [notifications, key] of cases) {
    assert.throws(
      () => withNotifications(notifications),
      (e: unknown) => e instanceof ConfigError && e.key === key && !e.message.includes('Injected'),
      `${key}: ${JSON.stringify(notifications)}`,
    );
  }
});

test('upstream mode refuses notifications: the registry behind regate sends its own', () => {
  assert.throws(
    () => validateConfig({ version: '0.1', regate: { upstream: { url: 'http://127.0.0.1:5001' } }, notifications: { endpoints: [{ name: 'ci', url: 'http://ci/' }] } }, 't.yml', '/'),
    (e: unknown) => e instanceof ConfigError && e.key === 'notifications' && /upstream mode/.test(e.message),
  );
});
