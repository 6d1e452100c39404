// Upstream mode (regate.upstream): regate with TLS + htpasswd in front of another registry.
//   - CNCF Distribution 2.8.2 (Debian's docker-registry, plain HTTP on loopback) as the upstream:
//     skopeo pushes and pulls an image through regate, byte for byte, and the image is in
//     Distribution's own storage.
//   - A recording upstream in this process (a real HTTP server that answers like a registry and
//     keeps what it received) for what the proxy must do to each request and response: Host and
//     X-Forwarded-*/X-Real-IP, Authorization stripped or replaced or passed, Location rewritten, one
//     API-version header, a chunked body over the limit cut with 413, an upstream 401 turned into
//     502, an upstream that is down (502) or stalls (504) answered at once in the spec's envelope,
//     and a client that goes away aborting the upstream request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startRegateTarget, type TestUser, type TlsAuthTarget } from '../support/tls-auth-target.js';
import { freePort, makeTempDir, skopeo, startDistribution, type RegistryHandle } from '../support/processes.js';
import { buildOciImage, diffPulledImage, readPulledImage } from '../support/image-builder.js';

const ALICE: TestUser = { username: 'alice', password: 'Upstream-Alice-pw1' };
const tmp = makeTempDir('regate-upstream-');
after(() => tmp.remove());

interface Answer {
  status: number;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function basic(user: TestUser): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

/** An HTTPS request to the target, certificate verified against its CA. */
function call(target: TlsAuthTarget, method: string, path: string, options: { user?: TestUser; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.user) headers.authorization = basic(options.user);
    const req = httpsRequest({ host: target.bind, port: target.port, path, method, headers, ca: readFileSync(target.caFile), timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const errorCode = (a: Answer): string | undefined => (JSON.parse(a.body.toString('utf8')) as { errors: Array<{ code: string }> }).errors[0]?.code;

describe('upstream mode in front of Distribution 2.8.2', () => {
  let distribution: RegistryHandle;
  let target: TlsAuthTarget;

  before(async () => {
    distribution = await startDistribution({ rootDir: join(tmp.path, 'distribution-root') });
    target = await startRegateTarget({ users: [ALICE], upstream: { url: distribution.url } });
  });
  after(async () => {
    await target?.stop();
    await distribution?.stop();
  });

  it('skopeo pushes and pulls back byte-identical through regate; the image lives in Distribution', async () => {
    const image = buildOciImage({ dir: join(tmp.path, 'src'), seed: 'upstream-e2e', tag: 'v1' });
    const creds = `${ALICE.username}:${ALICE.password}`;
    await skopeo(['copy', '--all', '--preserve-digests', '--dest-creds', creds, '--dest-tls-verify=false', image.pushRef, `docker://${target.host}/team/app:v1`]);
    const out = join(tmp.path, 'out');
    await skopeo(['copy', '--all', '--preserve-digests', '--src-creds', creds, '--src-tls-verify=false', `docker://${target.host}/team/app:v1`, `oci:${out}:v1`]);
    assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:v1`)), []);
    // Straight from Distribution, without regate: the manifest is there.
    const direct = await fetch(`${distribution.url}/v2/team/app/manifests/v1`, { headers: { accept: image.top.mediaType } });
    assert.equal(direct.status, 200);
    assert.ok(Buffer.from(await direct.arrayBuffer()).equals(image.top.bytes));
    // Without credentials regate answers 401 itself; nothing reaches Distribution's realm.
    const anonymous = await call(target, 'GET', '/v2/team/app/manifests/v1');
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="regate-test"/);
  });
});

/** A registry-shaped HTTP server that records each request it gets and answers by script. */
class RecordingUpstream {
  readonly seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
  readonly closedEarly: string[] = [];
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
    res.end('{}');
  };
  server!: Server;
  origin = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.on('close', () => {
        if (!res.writableFinished) this.closedEarly.push(req.url ?? '');
      });
      this.answer(req, res);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  last(): { method: string; url: string; headers: IncomingMessage['headers'] } {
    const entry = this.seen.at(-1);
    assert.ok(entry, 'the upstream received no request');
    return entry;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('upstream mode: what the proxy does to requests and responses', () => {
  const upstream = new RecordingUpstream();
  let target: TlsAuthTarget;

  before(async () => {
    await upstream.start();
    target = await startRegateTarget({ users: [ALICE], upstream: { url: upstream.origin, idletimeout: '2s' }, regate: { blobmaxbytes: 4 * 1024 * 1024 } });
  });
  after(async () => {
    await target?.stop();
    await upstream.stop();
  });

  it('behind trusted proxies (regate.http.trustedproxies), X-Forwarded-For keeps the hops they vouch for and appends the peer', async () => {
    const behind = await startRegateTarget({
      users: [ALICE],
      upstream: { url: upstream.origin },
      regate: { http: { trustedproxies: ['127.0.0.1/32', '10.0.0.0/8'] } },
    });
    try {
      // 127.0.0.1 (trusted) says it got the request from 10.0.0.9 (trusted), which got it from
      // 203.0.113.7: that is the client; what 203.0.113.7 claims about itself (6.6.6.6) is not kept.
      assert.equal((await call(behind, 'GET', '/v2/', { user: ALICE, headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 10.0.0.9' } })).status, 200);
      assert.equal(upstream.last().headers['x-forwarded-for'], '203.0.113.7, 10.0.0.9, 127.0.0.1');
      assert.equal(upstream.last().headers['x-real-ip'], '203.0.113.7');
      // No X-Forwarded-For: the peer is the client.
      assert.equal((await call(behind, 'GET', '/v2/', { user: ALICE })).status, 200);
      assert.equal(upstream.last().headers['x-forwarded-for'], '127.0.0.1');
    } finally {
      await behind.stop();
    }
  });

  it('Host and X-Forwarded-*/X-Real-IP are set; the client\'s Authorization and a forged X-Forwarded-For do not go up', async () => {
    const res = await call(target, 'GET', '/v2/', { user: ALICE, headers: { 'x-forwarded-for': '6.6.6.6' } });
    assert.equal(res.status, 200);
    const seen = upstream.last();
    assert.equal(seen.url, '/v2/');
    assert.equal(seen.headers.host, target.host);
    assert.equal(seen.headers['x-forwarded-host'], target.host);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-real-ip'], '127.0.0.1');
    assert.equal(seen.headers.authorization, undefined);
    // One API-version header, the gateway's.
    const versions = res.rawHeaders.filter((_v, i) => i % 2 === 0 && res.rawHeaders[i]!.toLowerCase() === 'docker-distribution-api-version');
    assert.equal(versions.length, 1);
  });

  it('a Location on the upstream\'s own address is rewritten to the gateway\'s; a relative one is left alone', async () => {
    upstream.answer = (req, res) => {
      const location = req.url!.includes('relative') ? '/v2/a/blobs/uploads/rel?_state=x' : `${upstream.origin}/v2/a/blobs/uploads/abs?_state=y`;
      res.writeHead(202, { location, 'docker-upload-uuid': 'u1', 'content-length': '0' });
      res.end();
    };
    const absolute = await call(target, 'POST', '/v2/a/blobs/uploads/', { user: ALICE });
    assert.equal(absolute.status, 202);
    assert.equal(absolute.headers.location, `https://${target.host}/v2/a/blobs/uploads/abs?_state=y`);
    assert.equal(absolute.headers['docker-upload-uuid'], 'u1');
    const relative = await call(target, 'POST', '/v2/relative/blobs/uploads/', { user: ALICE });
    assert.equal(relative.headers.location, '/v2/a/blobs/uploads/rel?_state=x');
  });

  it('an upstream 429 reaches the client with a Retry-After, the upstream\'s own when it sent one', async () => {
    upstream.answer = (req, res) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (req.url!.includes('with')) headers['retry-after'] = '7';
      res.writeHead(429, headers);
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
    };
    const bare = await call(target, 'GET', '/v2/a/tags/list', { user: ALICE });
    assert.equal(bare.status, 429);
    assert.equal(bare.headers['retry-after'], '1');
    const own = await call(target, 'GET', '/v2/with/tags/list', { user: ALICE });
    assert.equal(own.headers['retry-after'], '7');
  });

  it('bodies stream up and down unchanged', async () => {
    upstream.answer = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(201, { 'content-length': String(body.length) });
        res.end(Buffer.from(body).reverse());
      });
    };
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const res = await call(target, 'PUT', '/v2/a/blobs/uploads/x?digest=sha256:0', { user: ALICE, body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 201);
    assert.ok(res.body.equals(Buffer.from(body).reverse()));
  });

  it('a chunked blob body over regate.blobmaxbytes is cut: 413 SIZE_INVALID, and the upstream request is aborted', async () => {
    upstream.answer = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'content-length': '0' });
        res.end();
      });
    };
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        { host: target.bind, port: target.port, path: '/v2/a/blobs/uploads/over', method: 'PATCH', headers: { authorization: basic(ALICE), 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' }, ca: readFileSync(target.caFile) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      // 6 MiB in 256 KiB pieces, more than the 4 MiB limit; stop writing once the answer is in.
      let sent = 0;
      const piece = Buffer.alloc(256 * 1024, 7);
      const pump = (): void => {
        while (sent < 6 * 1024 * 1024 && !req.destroyed) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }).catch((err: Error) => ({ status: -1, rawHeaders: [], headers: {}, body: Buffer.from(err.message) }));
    // A client still sending may see the connection close before it reads the 413: either way nothing went through.
    if (answer.status !== -1) {
      assert.equal(answer.status, 413);
      assert.equal(errorCode(answer), 'SIZE_INVALID');
    }
    const deadline = Date.now() + 5000;
    while (!upstream.closedEarly.includes('/v2/a/blobs/uploads/over') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(upstream.closedEarly.includes('/v2/a/blobs/uploads/over'), 'the upstream request was not cut');
  });

  it('an upstream 401 is a 502 in the spec\'s envelope, never a second realm', async () => {
    upstream.answer = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream-realm"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    };
    const res = await call(target, 'GET', '/v2/a/tags/list', { user: ALICE });
    assert.equal(res.status, 502);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(errorCode(res), 'UNAVAILABLE');
    assert.ok(!res.body.toString().includes('upstream-realm'));
  });

  it('an upstream that stops answering is cut after idletimeout: 504 in the envelope', async () => {
    upstream.answer = () => undefined; // never answers
    const started = Date.now();
    const res = await call(target, 'GET', '/v2/a/manifests/stalled', { user: ALICE });
    assert.equal(res.status, 504);
    assert.equal(errorCode(res), 'UNAVAILABLE');
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('a client that goes away mid-download aborts the upstream request', async () => {
    upstream.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 20);
      res.on('close', () => clearInterval(timer));
    };
    await new Promise<void>((resolve, reject) => {
      const req = httpsRequest({ host: target.bind, port: target.port, path: '/v2/a/blobs/sha256:endless', method: 'GET', headers: { authorization: basic(ALICE) }, ca: readFileSync(target.caFile) }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('timeout', () => reject(new Error('no data')));
      req.end();
    });
    const deadline = Date.now() + 5000;
    while (!upstream.closedEarly.includes('/v2/a/blobs/sha256:endless') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(upstream.closedEarly.includes('/v2/a/blobs/sha256:endless'), 'the upstream response was not aborted');
  });
});

describe('upstream mode: credentials and failures', () => {
  it('the gateway\'s own upstream credentials replace the client\'s; passauthorization forwards the client\'s', async () => {
    const upstream = new RecordingUpstream();
    await upstream.start();
    try {
      const own = await startRegateTarget({ users: [ALICE], upstream: { url: upstream.origin, username: 'gateway', password: 'gw-Secret-9' } });
      try {
        assert.equal((await call(own, 'GET', '/v2/', { user: ALICE })).status, 200);
        assert.equal(upstream.last().headers.authorization, basic({ username: 'gateway', password: 'gw-Secret-9' }));
        assert.ok(!own.output().includes('gw-Secret-9'), 'the upstream password never reaches the log');
      } finally {
        await own.stop();
      }
      const pass = await startRegateTarget({ users: [ALICE], upstream: { url: upstream.origin, passauthorization: true } });
      try {
        assert.equal((await call(pass, 'GET', '/v2/', { user: ALICE })).status, 200);
        assert.equal(upstream.last().headers.authorization, basic(ALICE));
      } finally {
        await pass.stop();
      }
    } finally {
      await upstream.stop();
    }
  });

  it('an upstream that is down: 502 in the envelope at once; regate keeps serving', async () => {
    const port = await freePort(); // nothing listens there
    const target = await startRegateTarget({ users: [ALICE], upstream: { url: `http://127.0.0.1:${port}` } });
    try {
      const started = Date.now();
      const res = await call(target, 'GET', '/v2/', { user: ALICE });
      assert.equal(res.status, 502);
      assert.equal(errorCode(res), 'UNAVAILABLE');
      assert.ok(Date.now() - started < 3000);
      assert.equal((await call(target, 'GET', '/_ping')).status, 200, 'the ping still answers');
      assert.equal((await call(target, 'GET', '/v2/', { user: ALICE })).status, 502, 'and so does the next request');
    } finally {
      await target.stop();
    }
  });
});
