// Two regate processes on one container and one upload session, sent different bytes: what a commit
// verified is what becomes the blob, on OpenStack Swift and on Ceph RGW (which ignores
// If-None-Match, so nothing there stops two writers from both starting the session's data). The
// running hash in a process covers the bytes that process wrote; another process's bytes may be
// what is stored by the time of the commit, or be appended while the commit runs. Either way a blob
// must never hold bytes its digest does not name (a pusher could otherwise plant a layer under a
// digest other repositories later link). The races are made deterministic with request hooks on
// the real clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { SwiftDriver } from '../../src/storage/drivers/swift.js';
import { startSwiftAio, type SwiftAio } from '../support/swift-aio.js';
import { startCephRgw, type CephRgw } from '../support/ceph-rgw.js';
import { swiftOptions } from '../support/swift-options.js';
import { DIRECTORY_ONLY } from '../../src/storage/driver.js';
import { pathFor } from '../../src/storage/paths.js';
import { bytes, errorCode, sha256, startTestRegistry, type TestRegistry } from './harness.js';

let swift: SwiftAio;
let rgw: CephRgw;
const open: TestRegistry[] = [];

before(async () => {
  [swift, rgw] = await Promise.all([startSwiftAio(), startCephRgw()]);
});
after(async () => {
  for (const reg of open) await reg.close();
  await swift?.stop();
  await rgw?.stop();
});

async function pair(backend: SwiftAio | CephRgw): Promise<Array<{ reg: TestRegistry; inner: SwiftDriver }>> {
  const container = `shared-${randomBytes(3).toString('hex')}`;
  return Promise.all([0, 1].map(async () => {
    const inner = new SwiftDriver(swiftOptions(backend, container));
    const reg = await startTestRegistry({ name: 'swift', make: async () => ({ driver: wrapDriver(inner), cleanup: async () => inner.close() }) });
    open.push(reg);
    return { reg, inner };
  }));
}

const patch = (reg: TestRegistry, location: string, data: Buffer, from: number) =>
  reg.request('PATCH', location, { body: data, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${from + data.length - 1}` } });
const finish = (reg: TestRegistry, location: string, digest: string) =>
  reg.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);

function signal(): { fire: () => void; fired: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}

/**
 * Holds the first request of `driver` that `matches` until released: `reached` resolves when it
 * arrives. Later requests pass.
 */
function holdAt(driver: SwiftDriver, matches: (method: string, object: string | undefined) => boolean): { reached: Promise<void>; release: () => void } {
  const reached = signal();
  const released = signal();
  let held = false;
  driver.client.hooks.beforeRequest = async (method, object) => {
    if (held || !matches(method, object)) return;
    held = true;
    reached.fire();
    await released.fired;
  };
  return { reached: reached.fired, release: released.fire };
}

for (const [label, backend] of [['OpenStack Swift', () => swift], ['Ceph RGW', () => rgw]] as const) {
  describe(`one upload session written by two processes (${label})`, () => {
    it('alone on its session, a chunked upload keeps its running hash across PATCHes: the commit reads no stored byte back', async () => {
      const [a] = await pair(backend());
      const data = bytes(3 * 1024 * 1024 + 11, 70);
      const location = (await a.reg.request('POST', '/v2/shared/fast/blobs/uploads/')).header('location')!;
      const piece = 1024 * 1024 + 3;
      for (let from = 0; from < data.length; from += piece) {
        assert.equal((await patch(a.reg, location, data.subarray(from, from + piece), from)).status, 202);
      }
      const reads: string[] = [];
      a.inner.client.hooks.beforeRequest = (method, object) => {
        if (method === 'GET' && object !== undefined) reads.push(object);
      };
      const put = await finish(a.reg, location, sha256(data));
      a.inner.client.hooks.beforeRequest = undefined;
      assert.equal(put.status, 201, put.body.toString());
      assert.deepEqual(reads, [], 'the digest came from the running hash');
      assert.ok((await a.reg.request('GET', `/v2/shared/fast/blobs/${sha256(data)}`)).body.equals(data));
    });

    it('the other process stored its bytes last: the commit re-reads them and refuses, no blob', async () => {
      const [a, b] = await pair(backend());
      const mine = bytes(2 * 1024 * 1024 + 3, 71);
      const theirs = bytes(mine.length, 72);
      const location = (await a.reg.request('POST', '/v2/shared/poison/blobs/uploads/')).header('location')!;
      // a starts writing; b starts once a's data is under way (so both get to write), and b's
      // data is written last.
      const aWriting = signal();
      a.inner.client.hooks.beforeRequest = (method, object) => {
        if (method === 'PUT' && object?.startsWith('segments/')) aWriting.fire();
      };
      const aDone = signal();
      let bDataPuts = 0;
      b.inner.client.hooks.beforeRequest = async (method, object) => {
        if (method === 'PUT' && object?.endsWith('/data') && ++bDataPuts === 2) await aDone.fired;
      };
      const aPatch = patch(a.reg, location, mine, 0).then((res) => (aDone.fire(), res));
      await aWriting.fired;
      const [ra, rb] = await Promise.all([aPatch, patch(b.reg, location, theirs, 0)]);
      a.inner.client.hooks.beforeRequest = undefined;
      b.inner.client.hooks.beforeRequest = undefined;
      assert.deepEqual([ra.status, rb.status], [202, 202], 'both processes wrote');
      const put = await finish(a.reg, location, sha256(mine));
      assert.equal(put.status, 400, put.body.toString());
      assert.equal(errorCode(put), 'DIGEST_INVALID');
      assert.equal((await a.reg.request('HEAD', `/v2/shared/poison/blobs/${sha256(mine)}`)).status, 404, 'no blob under a digest its bytes do not have');
      assert.equal((await b.reg.request('HEAD', `/v2/shared/poison/blobs/${sha256(mine)}`)).status, 404);
    });

    it('an append still under way when the other process commits the session: it writes no manifest over the blob\'s segments, and removing the upload leaves the blob whole', async () => {
      const [a, b] = await pair(backend());
      const mine = bytes(2 * 1024 * 1024 + 7, 75);
      const more = bytes(1024 * 1024 + 2, 76);
      const location = (await a.reg.request('POST', '/v2/shared/handover/blobs/uploads/')).header('location')!;
      const id = location.split('/').pop()!;
      assert.equal((await patch(a.reg, location, mine, 0)).status, 202);
      // b has opened its append (it found a's segment set) when a commits and hands the set over.
      const bAppending = holdAt(b.inner, (method, object) => method === 'PUT' && object?.startsWith('segments/') === true);
      const bPatch = patch(b.reg, location, more, mine.length);
      await bAppending.reached;
      const put = await finish(a.reg, location, sha256(mine));
      bAppending.release();
      const rb = await bPatch;
      b.inner.client.hooks.beforeRequest = undefined;
      assert.equal(put.status, 201, put.body.toString());
      assert.ok(rb.status === 416 || rb.status === 404, `the late append is refused: ${rb.status} ${rb.body.toString()}`);
      // What a purge of the abandoned session would do: delete whatever is left under it.
      await b.inner.delete(pathFor({ kind: 'uploadDir', name: 'shared/handover', id }), DIRECTORY_ONLY).catch(() => undefined);
      const got = await b.reg.request('GET', `/v2/shared/handover/blobs/${sha256(mine)}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(mine), 'the committed blob is whole');
    });

    it('bytes appended by the other process while the commit runs: the move refuses (416), nothing committed, the session goes on', async () => {
      const [a, b] = await pair(backend());
      const mine = bytes(2 * 1024 * 1024 + 5, 73);
      const more = bytes(1024 * 1024 + 1, 74);
      const location = (await a.reg.request('POST', '/v2/shared/append/blobs/uploads/')).header('location')!;
      assert.equal((await patch(a.reg, location, mine, 0)).status, 202);
      // a's commit has verified its bytes and looks for an existing blob; b appends right then.
      const aChecking = holdAt(a.inner, (method, object) => method === 'HEAD' && object?.includes('/blobs/sha256/') === true);
      const aPut = finish(a.reg, location, sha256(mine));
      await aChecking.reached;
      const rb = await patch(b.reg, location, more, mine.length);
      aChecking.release();
      const put = await aPut;
      a.inner.client.hooks.beforeRequest = undefined;
      assert.equal(rb.status, 202, rb.body.toString());
      assert.equal(put.status, 416, put.body.toString());
      assert.equal(put.header('range'), `0-${mine.length + more.length - 1}`, 'the client learns where the upload really is');
      assert.equal((await a.reg.request('HEAD', `/v2/shared/append/blobs/${sha256(mine)}`)).status, 404, 'nothing committed');
      // The upload holds both pieces and commits under their digest.
      const whole = Buffer.concat([mine, more]);
      assert.equal((await finish(b.reg, location, sha256(whole))).status, 201);
      const got = await a.reg.request('GET', `/v2/shared/append/blobs/${sha256(whole)}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(whole));
    });
  });
}
