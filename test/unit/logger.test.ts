// log.formatter: each formatter's line shape (logstash: Distribution's logrus event shape).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';

function firstLine(formatter: 'text' | 'json' | 'logstash'): string {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString()));
  const logger = createLogger({ level: 'info', formatter, fields: { service: 'registry' }, stream });
  logger.info('listening', { url: 'https://x:5000' });
  return out.split('\n')[0]!;
}

test('logstash: @timestamp, @version "1", message, level, and the fields beside them', () => {
  const event = JSON.parse(firstLine('logstash')) as Record<string, unknown>;
  assert.equal(event['@version'], '1');
  assert.ok(!Number.isNaN(Date.parse(String(event['@timestamp']))));
  assert.equal(event.message, 'listening');
  assert.equal(event.level, 'info');
  assert.equal(event.service, 'registry');
  assert.equal(event.url, 'https://x:5000');
  assert.equal(event.timestamp, undefined);
});

test('json keeps winston\'s shape; text is one readable line', () => {
  const json = JSON.parse(firstLine('json')) as Record<string, unknown>;
  assert.equal(json.message, 'listening');
  assert.equal(json['@version'], undefined);
  assert.match(firstLine('text'), /^\S+ info listening \{.*"url":"https:\/\/x:5000"/);
});
