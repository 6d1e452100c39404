// A private containerd for a test file (Debian's containerd 1.6): root, state and sockets under
// one temp directory, the CRI plugin off, stopped by PID. `ctr` talks to it through its socket;
// `fetch` pulls an image's content with a hosts directory (containerd's hosts.toml mirrors, which
// send `?ns=<registry host>` on every request to a mirror).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireExecutable, runCommand, spawnServer, type CommandResult, type SpawnedServer } from './processes.js';

export interface Containerd {
  socket: string;
  ctr(args: readonly string[]): Promise<CommandResult>;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<Containerd> {
  const binary = requireExecutable('/usr/bin/containerd');
  const ctrBinary = requireExecutable('/usr/bin/ctr');
  const dir = makeTempDir('regate-containerd-');
  const socket = join(dir.path, 'containerd.sock');
  const config = join(dir.path, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir.path, 'root')}"`,
      `state = "${join(dir.path, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${join(dir.path, 'ttrpc.sock')}"`,
      '',
    ].join('\n'),
  );
  let server: SpawnedServer;
  try {
    server = await spawnServer({ name: 'containerd', command: binary, args: ['--config', config], ready: /containerd successfully booted/ });
  } catch (err) {
    dir.remove();
    throw err;
  }
  return {
    socket,
    ctr: (args) => runCommand(ctrBinary, ['--address', socket, ...args]),
    stop: async () => {
      await server.stop();
      dir.remove();
    },
  };
}
