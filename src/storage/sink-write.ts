// Writing into a sink and knowing when the bytes have left our buffer: the write callback, or a
// rejection when the sink errors or closes first (a client that went away never calls back).
import type { Writable } from 'node:stream';

export function writeToSink(sink: Writable, chunk: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (sink.destroyed) {
      reject(new Error('the reader went away'));
      return;
    }
    let settled = false;
    const onClose = (): void => finish(new Error('the reader went away'));
    const finish = (err?: Error | null): void => {
      if (settled) return;
      settled = true;
      sink.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    sink.once('close', onClose);
    sink.write(chunk, finish);
  });
}
