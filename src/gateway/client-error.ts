// Requests Node's HTTP parser rejects never reach a handler; answer them with the spec's envelope
// too. A body that ends before its Content-Length is the client's size error, not a crash.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { API_VERSION, API_VERSION_HEADER } from '../registry/api-version.js';
import { errorEnvelope, RegistryError } from '../registry/errors.js';

function errorFor(code: string | undefined): RegistryError {
  switch (code) {
    case 'HPE_INVALID_EOF_STATE':
      return new RegistryError('SIZE_INVALID', undefined, { message: 'the request body ended before its announced length' });
    case 'HPE_HEADER_OVERFLOW':
      return new RegistryError('UNSUPPORTED', undefined, { status: 431, message: 'request headers too large' });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RegistryError('UNAVAILABLE', undefined, { status: 408, message: 'request timed out' });
    default:
      return new RegistryError('UNSUPPORTED', undefined, { status: 400, message: 'malformed HTTP request' });
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const regErr = errorFor(err.code);
    const body = JSON.stringify(errorEnvelope(regErr));
    socket.end(
      `HTTP/1.1 ${regErr.status} ${REASONS[regErr.status] ?? 'Error'}\r\n` +
        `Connection: close\r\nContent-Type: application/json\r\n${API_VERSION_HEADER}: ${API_VERSION}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}
