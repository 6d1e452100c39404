// A real webhook receiver for notification tests: node:http on 127.0.0.1 (port 0, or a given port
// to "come back" where a down endpoint was), recording every envelope POSTed to it. It can answer
// (200), hold requests without answering (a hung receiver), or refuse with a status.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  id: string;
  timestamp: string;
  action: string;
  target: Record<string, any>;
  request: Record<string, any>;
  actor: { name?: string };
  source: { addr?: string; instanceID?: string };
}

export interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  events: ReceivedEvent[];
}

export type ReceiverMode = 'answer' | 'hang' | { status: number };

export interface EventReceiver {
  port: number;
  url(path?: string): string;
  deliveries: Delivery[];
  /** Every event received at `path` (all paths when undefined), in arrival order. */
  events(path?: string): ReceivedEvent[];
  setMode(mode: ReceiverMode): void;
  /** Cuts every request held in 'hang' mode (as a receiver that restarts would). */
  dropHeld(): void;
  /** Waits until `check` holds on the events at `path`, or throws after `withinMs`. */
  waitFor(what: string, check: (events: ReceivedEvent[]) => boolean, withinMs?: number, path?: string): Promise<ReceivedEvent[]>;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startEventReceiver(port = 0): Promise<EventReceiver> {
  const deliveries: Delivery[] = [];
  let mode: ReceiverMode = 'answer';
  const held = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      if (typeof mode === 'object') {
        res.writeHead(mode.status).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: ReceivedEvent[] };
      deliveries.push({ path: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, events: body.events });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const events = (path?: string): ReceivedEvent[] => deliveries.filter((d) => path === undefined || d.path === path).flatMap((d) => d.events);
  return {
    port: actual,
    url: (path = '/events') => `http://127.0.0.1:${actual}${path}`,
    deliveries,
    events,
    setMode: (m) => void (mode = m),
    dropHeld: () => {
      for (const res of held) res.socket?.destroy();
      held.clear();
    },
    async waitFor(what, check, withinMs = 10_000, path) {
      const started = Date.now();
      for (;;) {
        const seen = events(path);
        if (check(seen)) return seen;
        if (Date.now() - started > withinMs) throw new Error(`${what}: not seen within ${withinMs} ms; got ${JSON.stringify(seen.map((e) => `${e.action} ${e.target.mediaType ?? ''} ${e.target.tag ?? ''}`))}`);
        await sleep(20);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.socket?.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
