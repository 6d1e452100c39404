// podman (Debian 4.3, daemonless) with a private store for one test file: every call gets
// `--root`, `--runroot`, `--tmpdir` under a temp directory, `--storage-driver vfs`, the cgroupfs
// manager and no event log, so the system image store (/var/lib/containers/storage) is never touched.
// Credentials go to a temp auth file (`--authfile` and REGISTRY_AUTH_FILE, which skopeo reads too),
// never to /run/containers/0/auth.json or ~/.docker/config.json.
//
// podman starts no daemon for import/login/push/pull (no conmon: that is for containers); stop()
// still checks that nothing mentioning the temp directory is left and removes it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, runCommand, stopProcess, type CommandResult } from './processes.js';
import { describeResult, processesMentioning, requireProgram, runWithInput } from './host-tools.js';

export const PODMAN_BINARY = '/usr/bin/podman';

export interface Podman {
  dir: string;
  /** The auth file `podman login` writes (also REGISTRY_AUTH_FILE of every podman/skopeo call). */
  authFile: string;
  /** A signature policy accepting anything (as skopeo's --insecure-policy), for pull and push. */
  policyFile: string;
  /** The environment for podman and skopeo calls (REGISTRY_AUTH_FILE, TMPDIR set). */
  env: NodeJS.ProcessEnv;
  /** `podman GLOBALS… ARGS…`; never throws for a non-zero exit. */
  podman(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  podmanChecked(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** `auths` of the auth file (empty when there is none). */
  savedAuths(): Record<string, unknown>;
  /** Removes the store (checking no process is left that mentions it). */
  stop(): Promise<void>;
}

export function startPodman(): Podman {
  const binary = requireProgram(PODMAN_BINARY, 'podman');
  const tmp = makeTempDir('regate-podman-');
  const dir = tmp.path;
  const authFile = join(dir, 'auth.json');
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const tmpDir = join(dir, 'tmp');
  mkdirSync(tmpDir);
  const globals = [
    '--root', join(dir, 'root'),
    '--runroot', join(dir, 'runroot'),
    '--tmpdir', join(dir, 'libpod-tmp'),
    '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'none',
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REGISTRY_AUTH_FILE: authFile,
    // image copies stage blobs under TMPDIR (/var/tmp otherwise)
    TMPDIR: tmpDir,
    // no leftover settings from the calling shell
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
  };
  writeFileSync(
    join(dir, 'storage.conf'),
    `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'runroot')}"\n`,
  );
  const run = (args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> =>
    options.input !== undefined
      ? runWithInput(binary, [...globals, ...args], options.input, { env, timeoutMs: options.timeoutMs ?? 90_000 })
      : runCommand(binary, [...globals, ...args], { env, timeoutMs: options.timeoutMs ?? 90_000 });
  return {
    dir,
    authFile,
    policyFile,
    env,
    podman: run,
    podmanChecked: async (args, options) => {
      const result = await run(args, options);
      if (result.code !== 0) throw new Error(`podman ${args.join(' ')} failed: ${describeResult(result)}`);
      return result;
    },
    savedAuths: () => {
      if (!existsSync(authFile)) return {};
      return (JSON.parse(readFileSync(authFile, 'utf8')) as { auths?: Record<string, unknown> }).auths ?? {};
    },
    stop: async () => {
      try {
        for (const p of processesMentioning(dir)) await stopProcess(p.pid, { graceMs: 3000 });
      } finally {
        tmp.remove();
      }
    },
  };
}
