// One endpoint's queue on its own (the delivery function stands in for the HTTP sender; the whole
// path over a real receiver is in test/gateway/notifications.test.ts): drop-oldest when full,
// Distribution's threshold + backoff, the ignore rule, and the envelope's omitempty shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointQueue } from '../../src/notifications/endpoint-queue.js';
import { ignores } from '../../src/notifications/notifier.js';
import { toEnvelopeEvent } from '../../src/notifications/envelope.js';

function recordingLogger(): { lines: string[]; warn(m: string): void; info(m: string): void } {
  const lines: string[] = [];
  return { lines, warn: (m) => void lines.push(`warn ${m}`), info: (m) => void lines.push(`info ${m}`) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a full queue drops the oldest waiting event, warning once per run of drops', async () => {
  const delivered: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const logger = recordingLogger();
  const queue = new EndpointQueue({
    name: 'q',
    deliver: async (body) => {
      await gate;
      delivered.push(body);
    },
    threshold: 10,
    backoffMs: 1000,
    maxEvents: 2,
    logger,
  });
  for (const n of ['1', '2', '3', '4', '5']) queue.push(n);
  assert.equal(queue.length, 3, 'one in flight, two waiting');
  assert.equal(logger.lines.filter((l) => l.includes('queue full')).length, 1);
  release();
  await sleep(20);
  assert.deepEqual(delivered, ['1', '4', '5']);
  assert.equal(queue.length, 0);
  await queue.close(100);
});

test("threshold consecutive failures are retried at once, then backoff apart (Distribution's circuit breaker); a success resets", async () => {
  const attempts: number[] = [];
  let failuresLeft = 5;
  const queue = new EndpointQueue({
    name: 'q',
    deliver: async () => {
      attempts.push(Date.now());
      if (failuresLeft-- > 0) throw new Error('refused');
    },
    threshold: 3,
    backoffMs: 150,
    maxEvents: 10,
    logger: recordingLogger(),
  });
  queue.push('a');
  for (let i = 0; i < 100 && queue.length > 0; i++) await sleep(20);
  assert.equal(attempts.length, 6, 'five failures, then the delivery');
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  assert.ok(gaps[0]! < 100 && gaps[1]! < 100, `first retries immediate: ${gaps}`);
  for (const gap of gaps.slice(2)) assert.ok(gap >= 140, `backing off: ${gaps}`);
  // Reset: the next failure is retried immediately again.
  failuresLeft = 1;
  attempts.length = 0;
  queue.push('b');
  await sleep(60);
  assert.equal(attempts.length, 2);
  assert.ok(attempts[1]! - attempts[0]! < 100);
  await queue.close(100);
});

test('close: a backoff wait is cut short, one last try each, then what is left is dropped', async () => {
  let calls = 0;
  const logger = recordingLogger();
  const queue = new EndpointQueue({
    name: 'q',
    deliver: async () => {
      calls++;
      throw new Error('down');
    },
    threshold: 1,
    backoffMs: 60_000,
    maxEvents: 10,
    logger,
  });
  queue.push('a');
  queue.push('b');
  await sleep(20);
  const started = Date.now();
  await queue.close(2000);
  assert.ok(Date.now() - started < 500);
  assert.equal(calls, 3, 'a (first try), then a and b once more at shutdown');
  queue.push('c');
  assert.equal(queue.length, 0, 'nothing is queued after close');
});

test('ignore: by the target media type or by the action (delete events carry no media type)', () => {
  const endpoint = { ignoredMediaTypes: ['application/octet-stream'], ignoredActions: ['pull'] };
  assert.equal(ignores(endpoint, { action: 'push', target: { repository: 'r', mediaType: 'application/octet-stream' } }), true);
  assert.equal(ignores(endpoint, { action: 'pull', target: { repository: 'r', mediaType: 'application/vnd.oci.image.manifest.v1+json' } }), true);
  assert.equal(ignores(endpoint, { action: 'push', target: { repository: 'r', mediaType: 'application/vnd.oci.image.manifest.v1+json' } }), false);
  assert.equal(ignores(endpoint, { action: 'delete', target: { repository: 'r', digest: 'sha256:x' } }), false);
});

test("the envelope event: Distribution's field names, empty fields left out, references only when asked for", () => {
  const event = {
    action: 'delete' as const,
    timestamp: new Date('2026-01-02T03:04:05.678Z'),
    target: { repository: 'r', tag: 'v1', references: [{ mediaType: 'm', size: 1, digest: 'sha256:a' }] },
    request: { id: 'rid', addr: '', host: 'h:5000', method: 'DELETE', useragent: '' },
    actor: {},
  };
  assert.deepEqual(toEnvelopeEvent(event, 'eid', { addr: 'host:5000', instanceID: 'iid' }, false), {
    id: 'eid',
    timestamp: '2026-01-02T03:04:05.678Z',
    action: 'delete',
    target: { repository: 'r', tag: 'v1' },
    request: { id: 'rid', host: 'h:5000', method: 'DELETE', useragent: '' },
    actor: {},
    source: { addr: 'host:5000', instanceID: 'iid' },
  });
  assert.deepEqual(toEnvelopeEvent(event, 'eid', { addr: '', instanceID: 'iid' }, true).target.references, [{ mediaType: 'm', size: 1, digest: 'sha256:a' }]);
});
