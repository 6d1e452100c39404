// A plain `http://` request sent to the TLS port gets a 400 saying so, in the spec's envelope, as
// Go's net/http (and so Distribution) answers: "Client sent an HTTP request to an HTTPS server".
// Without this, OpenSSL drops the connection and curl or a health checker shows an empty reply,
// which leaves a newcomer guessing between a crash, a firewall and a wrong scheme.
//
// The first byte of a connection tells the two apart: a TLS connection starts with a handshake
// record (0x16), an HTTP request with the letters of its method. The TLS server's own connection
// listener is taken out and called only for sockets that start like TLS; the byte read to decide
// is put back (`unshift`), and Node's TLSSocket feeds what the socket already buffered to the TLS
// engine before it reads from the wire itself, so nothing is lost and the data path is unchanged.
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { API_VERSION, API_VERSION_HEADER } from '../registry/api-version.js';
import { errorEnvelope, RegistryError } from '../registry/errors.js';

const TLS_HANDSHAKE_RECORD = 0x16;
/** How long a refused plain-HTTP connection may keep sending before it is closed. */
const LINGER_MS = 1000;

export const PLAIN_HTTP_MESSAGE = 'Client sent an HTTP request to an HTTPS server';

function startsLikeHttp(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a; // GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS…
}

function plainHttpAnswer(): string {
  const error = new RegistryError('UNSUPPORTED', undefined, { status: 400, message: PLAIN_HTTP_MESSAGE });
  const body = `${JSON.stringify(errorEnvelope(error))}\n`;
  return (
    'HTTP/1.1 400 Bad Request\r\n' +
    `Connection: close\r\nContent-Type: application/json\r\n${API_VERSION_HEADER}: ${API_VERSION}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

export interface PlainHttpGuard {
  /**
   * Destroys every connection this listener accepted that is still open (at shutdown, after the
   * drain): those waiting for their first byte and those still in or past their TLS handshake,
   * which Node's closeAllConnections() does not know before they carry an HTTP request.
   */
  destroyAll(): void;
}

/**
 * Installs the first-byte check in front of `server`'s TLS handshake. A connection that sends
 * nothing within `firstByteTimeoutMs` is closed (the handshake timeout would have closed it).
 */
export function answerPlainHttpOnTls(server: TlsServer, options: { firstByteTimeoutMs: number }): PlainHttpGuard {
  const tlsListeners = server.listeners('connection') as Array<(this: TlsServer, socket: Socket) => void>;
  server.removeAllListeners('connection');
  const open = new Set<Socket>();

  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const timer = setTimeout(() => socket.destroy(), options.firstByteTimeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', done);
      socket.off('readable', onReadable);
    };
    const onError = (): void => {
      done();
      socket.destroy();
    };
    const onReadable = (): void => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) return; // end of stream: 'close' follows
      done();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE_RECORD || !startsLikeHttp(first[0]!)) {
        for (const listener of tlsListeners) listener.call(server, socket);
        return;
      }
      // Read and drop what the client still sends: closing with unread bytes would reset the
      // connection, and the client might never see the answer.
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.resume();
      socket.end(plainHttpAnswer());
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    socket.on('error', onError);
    socket.on('close', done);
    socket.on('readable', onReadable);
  });

  return {
    destroyAll: () => {
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}
