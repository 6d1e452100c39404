// Bodies and connections on the real HTTPS gateway: Content-Length limits answered 413 before
// anything is read or stored, chunked bodies (no Content-Length) accepted through the whole chain
// and cut off at the limit as they stream, and the timeouts: slow headers (slowloris) are cut off,
// a slow upload is not, idle keep-alive and stalled connections are closed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { bytes, chunked, errorCode, pushBlobChunked, sha256, startGateway, type Gateway, type Reply } from '../support/gateway.js';
import { DRAIN_DEADLINE_MS } from '../../src/registry/respond.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ALICE: [string, string] = ['alice', 'alice-limits-pw-1'];
const BLOB_LIMIT = 64 * 1024;
const MANIFEST_LIMIT = 4 * 1024;

/** Every regular file under `dir` with its size. */
function files(dir: string): Array<{ path: string; size: number }> {
  if (!existsSync(dir)) return [];
  const out: Array<{ path: string; size: number }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out.push({ path, size: statSync(path).size });
  }
  return out;
}

/** Sends only the request head (a huge Content-Length) and reads the answer without sending the body. */
function headOnly(gw: Gateway, method: string, path: string, headers: Record<string, string | number>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: gw.port, method, path, headers, ca: gw.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString(),
          json: () => JSON.parse(body.toString()),
          header: (n) => res.headers[n.toLowerCase()] as string | undefined,
        });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

const auth = (): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(ALICE.join(':')).toString('base64')}` });

describe('body limits', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({
      users: { [ALICE[0]]: ALICE[1] },
      config: { regate: { blobmaxbytes: BLOB_LIMIT, manifestmaxbytes: MANIFEST_LIMIT } },
    });
  });
  after(async () => gw.close());

  test('Content-Length over the blob limit → 413 SIZE_INVALID before the body is sent, nothing stored', async () => {
    const data = bytes(BLOB_LIMIT + 1, 3);
    const digest = sha256(data);
    const res = await headOnly(gw, 'POST', `/v2/team/big/blobs/uploads/?digest=${digest}`, { ...auth(), 'Content-Length': data.length });
    assert.equal(res.status, 413);
    assert.equal(errorCode(res), 'SIZE_INVALID');
    assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
    assert.equal((await gw.send('HEAD', `/v2/team/big/blobs/${digest}`, { auth: ALICE })).status, 404);
    assert.deepEqual(files(gw.storageRoot), [], 'no session, no data');
  });

  test('the limit applies before auth: an unauthenticated oversize body is 413 too (never read)', async () => {
    const res = await headOnly(gw, 'PATCH', '/v2/team/big/blobs/uploads/whatever', { 'Content-Length': 10 * 1024 * 1024 * 1024 });
    assert.equal(res.status, 413);
    assert.equal(res.header('connection'), 'close');
  });

  test('PATCH with Content-Length over the limit on an open session → 413, the session stays empty', async () => {
    const start = await gw.send('POST', '/v2/team/patch/blobs/uploads/', { auth: ALICE });
    assert.equal(start.status, 202);
    const location = start.header('location')!;
    const res = await headOnly(gw, 'PATCH', location, { ...auth(), 'Content-Length': BLOB_LIMIT * 2 });
    assert.equal(res.status, 413);
    assert.equal(errorCode(res), 'SIZE_INVALID');
    const status = await gw.send('GET', location, { auth: ALICE });
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), '0-0');
  });

  test('a chunked body over the limit is cut off as it streams (413 or closed), nothing stored', async () => {
    const data = bytes(BLOB_LIMIT * 4, 4);
    const digest = sha256(data);
    const start = await gw.send('POST', '/v2/team/chunky/blobs/uploads/', { auth: ALICE });
    const location = start.header('location')!;
    let outcome: string;
    try {
      const res = await gw.send('PATCH', location, { auth: ALICE, body: chunked(data, 8 * 1024) });
      outcome = `${res.status} ${errorCode(res)}`;
    } catch (err) {
      outcome = `closed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    assert.match(outcome, /^413 SIZE_INVALID$|^closed/);
    const put = await gw.send('PUT', `${location}?digest=${digest}`, { auth: ALICE });
    assert.notEqual(put.status, 201, 'the oversize blob cannot be committed');
    assert.equal((await gw.send('HEAD', `/v2/team/chunky/blobs/${digest}`, { auth: ALICE })).status, 404);
    for (const f of files(gw.storageRoot)) assert.ok(f.size <= BLOB_LIMIT, `${f.path} holds ${f.size} bytes`);
    assert.ok(!files(gw.storageRoot).some((f) => f.path.includes(digest.slice('sha256:'.length))), 'no blob data for that digest');
  });

  test('a chunked body under the limit goes through (PATCH and the final PUT)', async () => {
    const digest = await pushBlobChunked(gw, 'team/small', bytes(BLOB_LIMIT - 100, 5), ALICE);
    assert.equal((await gw.send('HEAD', `/v2/team/small/blobs/${digest}`, { auth: ALICE })).status, 200);
    // Final chunk in the PUT itself, chunked too.
    const data = bytes(30_000, 6);
    const start = await gw.send('POST', '/v2/team/small/blobs/uploads/', { auth: ALICE });
    const put = await gw.send('PUT', `${start.header('location')!}?digest=${sha256(data)}`, { auth: ALICE, body: chunked(data, 4096) });
    assert.equal(put.status, 201, put.text());
    // And a monolithic POST ?digest= with a chunked body.
    const mono = bytes(20_000, 7);
    const post = await gw.send('POST', `/v2/team/small/blobs/uploads/?digest=${sha256(mono)}`, { auth: ALICE, body: chunked(mono, 3000) });
    assert.equal(post.status, 201, post.text());
  });

  test('a manifest over the limit → 413 (by Content-Length, and chunked)', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(MANIFEST_LIMIT) }));
    const headers = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
    const byLength = await gw.send('PUT', '/v2/team/m/manifests/big', { auth: ALICE, body: manifest, headers });
    assert.equal(byLength.status, 413);
    assert.equal(errorCode(byLength), 'SIZE_INVALID');
    let outcome: string;
    try {
      const res = await gw.send('PUT', '/v2/team/m/manifests/big', { auth: ALICE, body: chunked(manifest, 1000), headers });
      outcome = `${res.status} ${errorCode(res)}`;
    } catch (err) {
      outcome = `closed (${(err as Error).message})`;
    }
    assert.match(outcome, /^413 SIZE_INVALID$|^closed/);
    assert.equal((await gw.send('GET', '/v2/team/m/tags/list', { auth: ALICE })).status, 404);
  });

  test('other transfer codings than chunked are refused (501), chunked is not', async () => {
    const { text } = await rawTls(gw, `PATCH /v2/team/te/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 501 /);
    assert.match(text, /"code":"UNSUPPORTED"/);
  });
});

/** Writes `data` on a raw TLS socket and returns what comes back before the server closes it. */
function rawTls(gw: Gateway, data: string, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.ca });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.on('secureConnect', () => socket.write(data));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', () => undefined);
  });
}

describe('timeouts', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({
      users: { [ALICE[0]]: ALICE[1] },
      config: { regate: { http: { headerstimeout: '400ms', keepalivetimeout: '300ms', idletimeout: '1s' } } },
    });
  });
  after(async () => gw.close());

  test('slowloris: headers sent byte by byte are cut off (408) while the client is still sending', async () => {
    const head = 'GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ' + 'a'.repeat(200) + '\r\n\r\n';
    const started = Date.now();
    const result = await new Promise<{ closedAfterMs: number; sent: number; text: string }>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.ca });
      let sent = 0;
      let text = '';
      let timer: NodeJS.Timeout | undefined;
      socket.on('secureConnect', () => {
        timer = setInterval(() => {
          if (sent < head.length && socket.writable) socket.write(head[sent++]!);
        }, 50);
      });
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ closedAfterMs: Date.now() - started, sent, text });
      });
    });
    assert.ok(result.sent < head.length, `the whole head (${head.length} bytes) got through`);
    assert.ok(result.closedAfterMs < 3000, `closed after ${result.closedAfterMs} ms`);
    assert.match(result.text, /^HTTP\/1\.1 408 /);
  });

  test('a small body dribbled after a refusal does not pin the connection (cut within the drain deadline)', async () => {
    const started = Date.now();
    const result = await new Promise<{ closedAfterMs: number; text: string }>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.ca });
      let text = '';
      let timer: NodeJS.Timeout | undefined;
      socket.on('secureConnect', () => {
        socket.write('PUT /v2/team/drip/manifests/latest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\n');
        // One byte every 300 ms: under the idle timeout (1 s), so only the drain deadline can end it.
        timer = setInterval(() => socket.writable && socket.write('x'), 300);
      });
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      // Without the deadline the server would wait for all 60000 bytes: give up well after it.
      const giveUp = setTimeout(() => socket.destroy(), DRAIN_DEADLINE_MS + 4000);
      socket.on('close', () => {
        clearInterval(timer);
        clearTimeout(giveUp);
        resolve({ closedAfterMs: Date.now() - started, text });
      });
    });
    assert.match(result.text, /^HTTP\/1\.1 401 /);
    assert.ok(result.closedAfterMs < DRAIN_DEADLINE_MS + 2000, `closed after ${result.closedAfterMs} ms`);
  });

  test('a connection that never sends anything is closed', async () => {
    const { closed } = await rawTls(gw, '', 4000);
    assert.equal(closed, true);
  });

  test('a slow upload (longer than the headers timeout) is not cut off', async () => {
    const data = bytes(40 * 1024, 8);
    const started = Date.now();
    const digest = sha256(data);
    const start = await gw.send('POST', '/v2/team/slow/blobs/uploads/', { auth: ALICE });
    const patch = await gw.send('PATCH', start.header('location')!, { auth: ALICE, body: chunked(data, 4096, 150) });
    assert.equal(patch.status, 202, patch.text());
    assert.ok(Date.now() - started > 1200, 'the upload really took longer than the headers timeout');
    const put = await gw.send('PUT', `${patch.header('location')!}?digest=${digest}`, { auth: ALICE });
    assert.equal(put.status, 201);
  });

  test('an idle keep-alive connection is closed after keepalivetimeout', async () => {
    const started = Date.now();
    const { text, closed } = await rawTls(gw, 'GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 3000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.equal(closed, true);
    assert.ok(Date.now() - started < 2500);
  });

  test('a stalled upload (no bytes for idletimeout) is closed', async () => {
    const start = await gw.send('POST', '/v2/team/stall/blobs/uploads/', { auth: ALICE });
    const location = start.header('location')!;
    const started = Date.now();
    const { closed } = await rawTls(
      gw,
      `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth().Authorization}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`,
      5000,
    );
    assert.equal(closed, true);
    const took = Date.now() - started;
    assert.ok(took >= 800 && took < 4000, `closed after ${took} ms`);
  });
});

describe('shutdown', () => {
  const ALICE_DRAIN: [string, string] = ['alice', 'alice-drain-password'];

  async function uploadDuringShutdown(drain: string): Promise<{ status: number | 'cut'; closedAfterMs: number }> {
    const gw = await startGateway({ users: { [ALICE_DRAIN[0]]: ALICE_DRAIN[1] }, config: { http: { draintimeout: drain } } });
    const start = await gw.send('POST', '/v2/team/drain/blobs/uploads/', { auth: ALICE_DRAIN });
    // 40 KiB in 10 pieces, 100 ms apart: about a second of upload.
    const patch = gw
      .send('PATCH', start.header('location')!, { auth: ALICE_DRAIN, body: chunked(bytes(40 * 1024, 9), 4096, 100) })
      .then((r) => r.status as number | 'cut', () => 'cut' as const);
    await new Promise((r) => setTimeout(r, 250));
    const closing = Date.now();
    const closed = gw.close().then(() => Date.now() - closing);
    return { status: await patch, closedAfterMs: await closed };
  }

  test('http.draintimeout: an upload in flight at shutdown completes, then the server stops', async () => {
    const { status, closedAfterMs } = await uploadDuringShutdown('5s');
    assert.equal(status, 202);
    assert.ok(closedAfterMs < 5000, `closed after ${closedAfterMs} ms: it waited for the request, not the whole drain`);
  });

  test("http.draintimeout: while draining, pings answer 503 and the push's next request is still served; then it stops", async () => {
    // A push is many requests: the layer in flight, then its commit and the manifest. The drain
    // keeps serving them; the 503 ping tells balancers and health checks to send nothing new.
    const gw = await startGateway({ users: { [ALICE_DRAIN[0]]: ALICE_DRAIN[1] }, config: { http: { draintimeout: '8s' } } });
    const data = bytes(40 * 1024, 11);
    const start = await gw.send('POST', '/v2/team/drain2/blobs/uploads/', { auth: ALICE_DRAIN });
    const patch = gw.send('PATCH', start.header('location')!, { auth: ALICE_DRAIN, body: chunked(data, 4096, 100) });
    await new Promise((r) => setTimeout(r, 250));
    const closing = Date.now();
    const closed = gw.close().then(() => Date.now() - closing);
    const ping = await gw.send('GET', '/_ping');
    assert.equal(ping.status, 503);
    assert.equal((ping.json() as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNAVAILABLE');
    const patched = await patch;
    assert.equal(patched.status, 202);
    const location = new URL(patched.header('location')!, 'https://registry.invalid');
    location.searchParams.set('digest', sha256(data));
    const committed = await gw.send('PUT', `${location.pathname}${location.search}`, { auth: ALICE_DRAIN, headers: { 'content-length': 0 } });
    assert.equal(committed.status, 201, 'the commit after the layer is served during the drain');
    const took = await closed;
    assert.ok(took < 5000, `stopped ${took} ms after the signal: once idle, not at the 8 s deadline`);
  });

  test('without http.draintimeout (Distribution default 0) requests in flight are cut at once', async () => {
    const { status, closedAfterMs } = await uploadDuringShutdown('0');
    assert.equal(status, 'cut');
    assert.ok(closedAfterMs < 500, `closed after ${closedAfterMs} ms`);
  });
});
