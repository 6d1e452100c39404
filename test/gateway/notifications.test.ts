// notifications through a whole regate (TLS, htpasswd, the embedded registry on the filesystem)
// to a real HTTP receiver in this process: the envelope Distribution 2.8.2 sends for pushes, pulls,
// mounts and deletes, the ignore lists, the configured headers, and an endpoint that is down or
// hangs never slowing a push, its events arriving once it is back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { pushImage, sha256, startGateway, type Gateway } from '../support/gateway.js';
import { closedPort, startEventReceiver, type EventReceiver, type ReceivedEvent } from '../support/event-receiver.js';

const ALICE: [string, string] = ['alice', 'alice-pw'];
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const summary = (events: ReceivedEvent[]): string[] => events.map((e) => `${e.action} ${e.target.mediaType ?? '-'}${e.target.tag ? ` ${e.target.tag}` : ''}`);

describe('events of a push, pull, mount and delete', () => {
  let receiver: EventReceiver;
  let gw: Gateway;
  let image: Awaited<ReturnType<typeof pushImage>>;
  let configDigest: string;

  before(async () => {
    receiver = await startEventReceiver();
    gw = await startGateway({
      users: { alice: 'alice-pw' },
      config: {
        notifications: {
          events: { includereferences: true },
          endpoints: [
            { name: 'all', url: receiver.url('/all'), headers: { 'X-Hook-Token': ['s3cret'], 'X-Two': ['a', 'b'] }, timeout: '2s' },
            { name: 'no-pulls', url: receiver.url('/no-pulls'), ignore: { actions: ['pull'] } },
            { name: 'no-blobs', url: receiver.url('/no-blobs'), ignoredmediatypes: ['application/octet-stream'] },
            { name: 'off', url: receiver.url('/off'), disabled: true },
          ],
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await receiver?.close();
  });

  test('push: each blob on its commit, then the manifest with its tag and references; actor and request as the gateway saw them', async () => {
    image = await pushImage(gw, 'team/app', 'v1', ALICE);
    const events = await receiver.waitFor('three pushes', (e) => e.length >= 3, 10_000, '/all');
    assert.deepEqual(summary(events), ['push application/octet-stream', 'push application/octet-stream', `push ${OCI_MANIFEST} v1`]);
    const manifest = JSON.parse(image.manifest.toString('utf8')) as { config: { digest: string; size: number } };
    configDigest = manifest.config.digest;
    const [configPush, layerPush, manifestPush] = events as [ReceivedEvent, ReceivedEvent, ReceivedEvent];
    const base = `https://127.0.0.1:${gw.port}`;
    assert.deepEqual(configPush.target, {
      mediaType: 'application/octet-stream',
      size: manifest.config.size,
      digest: configDigest,
      length: manifest.config.size,
      repository: 'team/app',
      url: `${base}/v2/team/app/blobs/${configDigest}`,
    });
    assert.equal(layerPush.target.digest, image.layerDigest);
    assert.equal(layerPush.target.size, image.layer.length);
    assert.deepEqual(manifestPush.target, {
      mediaType: OCI_MANIFEST,
      size: image.manifest.length,
      digest: image.digest,
      length: image.manifest.length,
      repository: 'team/app',
      url: `${base}/v2/team/app/manifests/${image.digest}`,
      tag: 'v1',
      references: [
        { mediaType: 'application/vnd.oci.image.config.v1+json', size: manifest.config.size, digest: configDigest },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: image.layer.length, digest: image.layerDigest },
      ],
    });
    for (const e of events) {
      assert.match(e.id, UUID);
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.deepEqual(e.actor, { name: 'alice' });
      assert.match(e.request.id, UUID);
      assert.equal(e.request.method, 'PUT');
      assert.equal(e.request.host, `127.0.0.1:${gw.port}`);
      assert.match(e.request.addr, /^127\.0\.0\.1:\d+$/);
      assert.equal(typeof e.request.useragent, 'string');
      assert.equal(e.source.addr, `${hostname()}:${gw.port}`);
      assert.match(e.source.instanceID!, UUID);
    }
    assert.equal(new Set(events.map((e) => e.source.instanceID)).size, 1);
    assert.equal(new Set(events.map((e) => e.id)).size, 3);
    // One event per POST, as Distribution; the envelope's media type and the configured headers.
    const deliveries = receiver.deliveries.filter((d) => d.path === '/all');
    assert.ok(deliveries.every((d) => d.events.length === 1));
    const first = deliveries[0]!;
    assert.equal(first.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');
    assert.equal(first.headers['x-hook-token'], 's3cret');
    const twos = first.rawHeaders.filter((_, i) => i % 2 === 0 && first.rawHeaders[i]!.toLowerCase() === 'x-two').length;
    assert.equal(twos, 2, 'a header with two values is sent as two header lines');
    // ignore.actions: pull does not stop pushes; ignoredmediatypes drops the blobs only.
    await receiver.waitFor('no-pulls sees the pushes', (e) => e.length >= 3, 10_000, '/no-pulls');
    const noBlobs = await receiver.waitFor('no-blobs sees the manifest', (e) => e.length >= 1, 10_000, '/no-blobs');
    assert.deepEqual(summary(noBlobs), [`push ${OCI_MANIFEST} v1`]);
    // Same event, same id, at every endpoint.
    assert.equal(noBlobs[0]!.id, manifestPush.id);
    assert.equal(receiver.events('/off').length, 0);
  });

  test('pull: GETs of manifests (by tag with the tag) and blobs are pulls; HEADs report nothing', async () => {
    const before = receiver.events('/all').length;
    const accept = { Accept: OCI_MANIFEST };
    assert.equal((await gw.send('HEAD', '/v2/team/app/manifests/v1', { auth: ALICE, headers: accept })).status, 200);
    assert.equal((await gw.send('HEAD', `/v2/team/app/blobs/${image.layerDigest}`, { auth: ALICE })).status, 200);
    const byTag = await gw.send('GET', '/v2/team/app/manifests/v1', { auth: ALICE, headers: { ...accept, 'User-Agent': 'ci-puller/1.0' } });
    assert.equal(byTag.status, 200);
    assert.equal((await gw.send('GET', `/v2/team/app/manifests/${image.digest}`, { auth: ALICE, headers: accept })).status, 200);
    const blob = await gw.send('GET', `/v2/team/app/blobs/${image.layerDigest}`, { auth: ALICE });
    assert.equal(blob.status, 200);
    const events = (await receiver.waitFor('three pulls', (e) => e.length >= before + 3, 10_000, '/all')).slice(before);
    // Events keep their order per endpoint, so nothing from the HEADs came before these.
    assert.deepEqual(summary(events), [`pull ${OCI_MANIFEST} v1`, `pull ${OCI_MANIFEST}`, 'pull application/octet-stream']);
    assert.equal(events[0]!.request.useragent, 'ci-puller/1.0');
    assert.equal(events[0]!.request.id, byTag.header('x-request-id'));
    assert.equal(events[0]!.request.method, 'GET');
    assert.equal(events[0]!.target.digest, image.digest);
    assert.equal(events[0]!.target.references.length, 2);
    assert.deepEqual(events[2]!.target, {
      mediaType: 'application/octet-stream',
      size: image.layer.length,
      digest: image.layerDigest,
      length: image.layer.length,
      repository: 'team/app',
      url: `https://127.0.0.1:${gw.port}/v2/team/app/blobs/${image.layerDigest}`,
    });
    const noBlobs = await receiver.waitFor('no-blobs sees two manifest pulls', (e) => e.length >= 3, 10_000, '/no-blobs');
    assert.deepEqual(summary(noBlobs), [`push ${OCI_MANIFEST} v1`, `pull ${OCI_MANIFEST} v1`, `pull ${OCI_MANIFEST}`]);
  });

  test('mount, then deletes: a tag, a blob, and a manifest by digest (with the tags that pointed at it)', async () => {
    const before = receiver.events('/all').length;
    const mount = await gw.send('POST', `/v2/other/app/blobs/uploads/?mount=${image.layerDigest}&from=team/app`, { auth: ALICE });
    assert.equal(mount.status, 201);
    const retag = await gw.send('PUT', '/v2/team/app/manifests/v2', { auth: ALICE, body: image.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(retag.status, 201);
    assert.equal((await gw.send('DELETE', '/v2/team/app/manifests/v2', { auth: ALICE })).status, 202);
    assert.equal((await gw.send('DELETE', `/v2/team/app/blobs/${configDigest}`, { auth: ALICE })).status, 202);
    assert.equal((await gw.send('DELETE', `/v2/team/app/manifests/${image.digest}`, { auth: ALICE })).status, 202);
    const events = (await receiver.waitFor('mount, push, four deletes', (e) => e.length >= before + 6, 10_000, '/all')).slice(before);
    assert.deepEqual(summary(events), ['mount application/octet-stream', `push ${OCI_MANIFEST} v2`, 'delete - v2', 'delete -', 'delete -', 'delete - v1']);
    assert.deepEqual(events[0]!.target, {
      mediaType: 'application/octet-stream',
      size: image.layer.length,
      digest: image.layerDigest,
      length: image.layer.length,
      repository: 'other/app',
      fromRepository: 'team/app',
      url: `https://127.0.0.1:${gw.port}/v2/other/app/blobs/${image.layerDigest}`,
    });
    assert.deepEqual(events[2]!.target, { repository: 'team/app', tag: 'v2' });
    assert.deepEqual(events[3]!.target, { digest: configDigest, repository: 'team/app' });
    assert.deepEqual(events[4]!.target, { digest: image.digest, repository: 'team/app' });
    assert.deepEqual(events[5]!.target, { repository: 'team/app', tag: 'v1' });
    assert.ok(events.slice(2).every((e) => e.request.method === 'DELETE' && e.actor.name === 'alice'));
    // ignore.actions [pull] lets every other action through.
    const noPulls = await receiver.waitFor('no-pulls: no pulls, all the rest', (e) => e.length >= 3 + 6, 10_000, '/no-pulls');
    assert.ok(!noPulls.some((e) => e.action === 'pull'));
  });
});

describe('an endpoint that is down or hangs never slows a push', () => {
  test('down (nothing listens): the push takes its normal time; once the receiver is up, the queued events arrive', async () => {
    const port = await closedPort();
    const gw = await startGateway({
      users: { alice: 'alice-pw' },
      config: { notifications: { endpoints: [{ name: 'down', url: `http://127.0.0.1:${port}/events`, timeout: '500ms', threshold: 2, backoff: '200ms' }] } },
    });
    let receiver: EventReceiver | undefined;
    try {
      const started = Date.now();
      const image = await pushImage(gw, 'ci/down', 'latest', ALICE);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 3000, `push took ${elapsed} ms`);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(gw.running.notifier!.queued().down, 3, 'the three events wait in the queue');
      assert.ok(gw.logs.some((l) => l.includes('endpoint down') && l.includes('retrying')), 'the failure is logged');
      receiver = await startEventReceiver(port);
      const events = await receiver.waitFor('the queued pushes, in order', (e) => e.length >= 3, 5000);
      assert.deepEqual(summary(events), ['push application/octet-stream', 'push application/octet-stream', 'push application/vnd.oci.image.manifest.v1+json latest']);
      assert.equal(events[2]!.target.digest, image.digest);
      assert.equal(events.length, 3, 'each event delivered once');
    } finally {
      await gw.close();
      await receiver?.close();
    }
  });

  test('hangs (never answers): the push takes its normal time; after the receiver recovers, every event arrives; shutdown does not wait on it', async () => {
    const receiver = await startEventReceiver();
    receiver.setMode('hang');
    const gw = await startGateway({
      users: { alice: 'alice-pw' },
      config: { notifications: { endpoints: [{ name: 'slow', url: receiver.url(), timeout: '10s', threshold: 1, backoff: '100ms' }] } },
      start: { notifications: { flushMs: 1000 } },
    });
    let closed = false;
    try {
      const started = Date.now();
      await pushImage(gw, 'ci/hang', 'v1', ALICE);
      const elapsed = Date.now() - started;
      // A sender the push waited on would take the endpoint's 10 s timeout for the first event.
      assert.ok(elapsed < 3000, `push took ${elapsed} ms`);
      assert.equal(receiver.events().length, 0);
      // The receiver restarts: held requests are cut, it answers again.
      receiver.setMode('answer');
      receiver.dropHeld();
      const events = await receiver.waitFor('all three pushes', (e) => e.length >= 3, 5000);
      assert.deepEqual(summary(events).map((s) => s.split(' ')[0]), ['push', 'push', 'push']);

      // Hung again at shutdown: close gives queued events one try within the flush budget (1 s), no more.
      receiver.setMode('hang');
      assert.equal((await gw.send('GET', '/v2/ci/hang/manifests/v1', { auth: ALICE, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
      const closing = Date.now();
      await gw.close();
      closed = true;
      const tookMs = Date.now() - closing;
      assert.ok(tookMs < 3000, `close took ${tookMs} ms`);
      assert.ok(gw.logs.some((l) => l.includes('not delivered at shutdown')));
    } finally {
      if (!closed) await gw.close();
      await receiver.close();
    }
  });

  test('a receiver answering 500 is retried: threshold immediate attempts, then backoff apart, until it answers 2xx', async () => {
    const receiver = await startEventReceiver();
    receiver.setMode({ status: 500 });
    const gw = await startGateway({
      users: { alice: 'alice-pw' },
      config: { notifications: { endpoints: [{ name: 'flaky', url: receiver.url(), threshold: 3, backoff: '300ms' }] } },
    });
    try {
      const blob = Buffer.from('one blob');
      const start = await gw.send('POST', `/v2/ci/flaky/blobs/uploads/?digest=${sha256(blob)}`, { auth: ALICE, body: blob, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(start.status, 201);
      await new Promise((r) => setTimeout(r, 500));
      receiver.setMode('answer');
      const events = await receiver.waitFor('the monolithic push', (e) => e.length >= 1, 5000);
      assert.equal(events[0]!.target.digest, sha256(blob));
      assert.equal(events[0]!.request.method, 'POST');
      assert.ok(gw.logs.some((l) => l.includes('response status 500') && l.includes('every 300 ms')));
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});
