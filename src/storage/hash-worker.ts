// Worker thread entry: keeps running hashes by session id, fed with views of shared memory, so
// SHA-256 of uploads runs beside the event loop instead of on it.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/**
 * `memory` names shared memory the worker keeps until told to forget it; `data` comes with the
 * first update that names it. Memory 0 is `data` for this update only.
 */
export type HashRequest =
  | { op: 'update'; id: number; memory: number; data?: SharedArrayBuffer; offset: number; length: number }
  | { op: 'digest'; id: number }
  | { op: 'drop'; id: number }
  | { op: 'forget'; memory: number };

/** An ack tells the sender the bytes were consumed and their memory may be reused. */
export type HashReply = { op: 'ack'; id: number } | { op: 'digest'; id: number; hex: string };

const hashes = new Map<number, Hash>();
const memories = new Map<number, SharedArrayBuffer>();
const port = parentPort;

port?.on('message', (msg: HashRequest) => {
  switch (msg.op) {
    case 'update': {
      let hash = hashes.get(msg.id);
      if (!hash) {
        hash = createHash('sha256');
        hashes.set(msg.id, hash);
      }
      if (msg.data && msg.memory !== 0) memories.set(msg.memory, msg.data);
      const data = msg.data ?? memories.get(msg.memory);
      if (!data) throw new Error(`hash worker: memory ${msg.memory} was never given`);
      hash.update(new Uint8Array(data, msg.offset, msg.length));
      port.postMessage({ op: 'ack', id: msg.id } satisfies HashReply);
      break;
    }
    case 'digest': {
      const hex = (hashes.get(msg.id) ?? createHash('sha256')).digest('hex');
      hashes.delete(msg.id);
      port.postMessage({ op: 'digest', id: msg.id, hex } satisfies HashReply);
      break;
    }
    case 'drop':
      hashes.delete(msg.id);
      break;
    case 'forget':
      memories.delete(msg.memory);
      break;
  }
});
