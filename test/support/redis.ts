// A real redis-server (Debian's) on 127.0.0.1, no persistence, stopped by PID. It can be stopped
// and started again on the same port (a Redis outage and its return).
import { freePort, requireExecutable, spawnServer, type SpawnedServer } from './processes.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface TestRedis {
  addr: string;
  port: number;
  /** Stops the server (the outage); start() brings it back on the same port, empty. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and its data stays, it just stops answering. */
  pause(): void;
  resume(): void;
}

export async function startRedis(): Promise<TestRedis> {
  const binary = requireExecutable(REDIS_SERVER);
  const port = await freePort();
  let server: SpawnedServer | undefined;
  const start = async (): Promise<void> => {
    server = await spawnServer({
      name: 'redis',
      command: binary,
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
      ready: /Ready to accept connections/,
    });
  };
  await start();
  return {
    addr: `127.0.0.1:${port}`,
    port,
    start,
    pause: () => process.kill(server!.pid, 'SIGSTOP'),
    resume: () => process.kill(server!.pid, 'SIGCONT'),
    async stop() {
      if (server) process.kill(server.pid, 'SIGCONT');
      await server?.stop();
      server = undefined;
    },
  };
}
