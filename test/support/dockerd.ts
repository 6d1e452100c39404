// A private Docker engine per test file: Debian's dockerd (docker.io 20.10) in a minimal mode that
// needs no networking, everything under one temp directory, stopped by PID.
//
//   dockerd --storage-driver vfs --iptables=false --ip6tables=false --ip-forward=false
//           --ip-masq=false --bridge=none --userland-proxy=false
//           -H unix://TMP/docker.sock --data-root TMP/data --exec-root TMP/exec
//           --pidfile TMP/docker.pid --config-file TMP/daemon.json
//
// It does not touch the system dockerd, its socket or /var/lib/docker. What it still touches of the
// machine, whatever the flags say: it writes /etc/docker/key.json, creates /run/docker/plugins, and
// reads registry trust from /etc/docker/certs.d/HOST:PORT/ca.crt (see installDockerCa, which adds
// and removes only its own HOST:PORT directory). Once the last engine and CA of a test process are
// gone, key.json, certs.d and /etc/docker are removed again unless they were there before.
//
// dockerd starts its own containerd as a child (`containerd --config TMP/exec/containerd/...`):
// stop() SIGTERMs dockerd, waits, and then makes sure every process it had started is gone too.
//
// The docker CLI used is Debian's /usr/bin/docker (the same version as the daemon), with
// DOCKER_HOST pointing at the private socket and DOCKER_CONFIG at a temp directory, so `docker
// login` writes its credentials there and never into ~/.docker.
//
// Images are made offline: `docker import` of a tar holding Debian's static busybox.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, type TarEntry } from './image-builder.js';
import { makeTempDir, runCommand, spawnServer, stopProcess, type CommandResult, type SpawnedServer } from './processes.js';
import { describeResult, descendantsOf, processesMentioning, requireProgram, runWithInput } from './host-tools.js';

export const DOCKERD_BINARY = '/usr/sbin/dockerd';
export const DOCKER_CLI = '/usr/bin/docker';
export const BUSYBOX_BINARY = '/bin/busybox';
export const DOCKER_CERTS_D = '/etc/docker/certs.d';
const ETC_DOCKER = '/etc/docker';
const DOCKER_KEY_JSON = '/etc/docker/key.json';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface DockerEngine {
  /** The temp directory holding everything of this engine. */
  dir: string;
  /** `unix:///…/docker.sock` */
  socket: string;
  /** DOCKER_CONFIG of every CLI call: `config.json` (login credentials) lives here. */
  configDir: string;
  /** dockerd's PID. */
  pid: number;
  /** The environment of every CLI call (DOCKER_HOST, DOCKER_CONFIG set). */
  env: NodeJS.ProcessEnv;
  /** Runs `docker ARGS…` against this engine (optionally with stdin); never throws for a non-zero exit. */
  docker(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Same, but throws with the whole output unless it exits 0. */
  dockerChecked(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** `auths` of $DOCKER_CONFIG/config.json (empty when there is none). */
  savedAuths(): Record<string, unknown>;
  /** dockerd's log so far. */
  output(): string;
  /** Stops dockerd and its containerd by PID, then removes the temp directory. */
  stop(): Promise<void>;
}

/**
 * Starts a private dockerd; resolves once `docker version` answers through its socket.
 * `storageDriver: 'overlay2'` is for tests that build and run images (vfs copies every layer
 * whole, minutes for a Node image); where overlay cannot be mounted, vfs is used instead.
 */
export async function startDockerd(options: { timeoutMs?: number; storageDriver?: 'vfs' | 'overlay2'; daemonConfig?: Record<string, unknown> } = {}): Promise<DockerEngine> {
  if (options.storageDriver === 'overlay2') {
    try {
      return await startDockerdWith('overlay2', options.timeoutMs, options.daemonConfig);
    } catch {
      return startDockerdWith('vfs', options.timeoutMs, options.daemonConfig);
    }
  }
  return startDockerdWith('vfs', options.timeoutMs, options.daemonConfig);
}

async function startDockerdWith(storageDriver: 'vfs' | 'overlay2', startTimeoutMs: number | undefined, daemonConfig: Record<string, unknown> = {}): Promise<DockerEngine> {
  const dockerd = requireProgram(DOCKERD_BINARY, 'docker.io');
  const cli = requireProgram(DOCKER_CLI, 'docker.io');
  requireProgram('/usr/bin/containerd', 'containerd');
  requireProgram('/usr/sbin/runc', 'runc');
  const timeoutMs = startTimeoutMs ?? 30_000;
  // A short path: the unix socket paths below must stay under 108 bytes.
  const tmp = makeTempDir('regate-dockerd-');
  const dir = tmp.path;
  const socketPath = join(dir, 'docker.sock');
  const socket = `unix://${socketPath}`;
  const configDir = join(dir, 'client-config');
  mkdirSync(configDir);
  const daemonJson = join(dir, 'daemon.json');
  // Not /etc/docker/daemon.json, whatever is in it; `daemonConfig` (e.g. registry-mirrors) only.
  writeFileSync(daemonJson, `${JSON.stringify(daemonConfig)}\n`);
  const path = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  const args = [
    '--storage-driver', storageDriver,
    '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
    '--bridge=none', '--userland-proxy=false',
    '-H', socket,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '--config-file', daemonJson,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path, DOCKER_HOST: socket, DOCKER_CONFIG: configDir };
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  delete env.DOCKER_CONTEXT;

  const etc = holdEtcDocker();
  let server: SpawnedServer;
  try {
    server = await spawnServer({ name: 'dockerd', command: dockerd, args, env: { ...process.env, PATH: path }, ready: /API listen on /, timeoutMs });
  } catch (err) {
    await killLeftovers(dir);
    tmp.remove();
    etc.release();
    throw err;
  }

  const run = (cliArgs: readonly string[], runOptions: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> =>
    runOptions.input !== undefined
      ? runWithInput(cli, cliArgs, runOptions.input, { env, timeoutMs: runOptions.timeoutMs ?? 90_000 })
      : runCommand(cli, cliArgs, { env, timeoutMs: runOptions.timeoutMs ?? 90_000 });

  const stop = async (): Promise<void> => {
    // Everything dockerd started (containerd, any shim) is noted before it goes.
    const children = descendantsOf(server.pid);
    try {
      await stopProcess(server.pid, { graceMs: 10_000, hasExited: server.exited });
      for (const child of children) {
        const cmdline = readCmdline(child.pid);
        if (cmdline !== undefined && cmdline === child.cmdline) await stopProcess(child.pid, { graceMs: 3000 });
      }
      await killLeftovers(dir);
    } finally {
      await unmountUnder(dir);
      tmp.remove();
      etc.release();
    }
  };

  try {
    // The API socket is up; make sure the CLI gets an answer from the daemon through it.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const version = await run(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
      if (version.code === 0 && version.stdout.toString('utf8').trim() !== '') break;
      if (Date.now() > deadline || server.exited())
        throw new Error(`dockerd did not answer \`docker version\`: ${describeResult(version)}\n--- dockerd log ---\n${server.output()}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    dir,
    socket,
    configDir,
    pid: server.pid,
    env,
    docker: run,
    dockerChecked: async (cliArgs, runOptions) => {
      const result = await run(cliArgs, runOptions);
      if (result.code !== 0) throw new Error(`docker ${cliArgs.join(' ')} failed: ${describeResult(result)}`);
      return result;
    },
    savedAuths: () => {
      const file = join(configDir, 'config.json');
      if (!existsSync(file)) return {};
      return ((JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, unknown> }).auths ?? {});
    },
    output: server.output,
    stop,
  };
}

function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** Stops (by PID) any process still mentioning `dir` (a containerd whose dockerd died, say). */
async function killLeftovers(dir: string): Promise<void> {
  for (const p of processesMentioning(dir)) await stopProcess(p.pid, { graceMs: 3000 });
}

/** Lazily unmounts anything still mounted under `dir` (none expected: vfs, no containers). */
async function unmountUnder(dir: string): Promise<void> {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((mountPoint) => mountPoint.startsWith(`${dir}/`));
  } catch {
    return;
  }
  for (const mountPoint of mounts.sort().reverse()) {
    await runCommand('umount', ['-l', mountPoint], { timeoutMs: 10_000 });
  }
}

// ---------------------------------------------------------------------------------------------
// A tiny image made offline

/**
 * A root filesystem tar: Debian's static busybox as /bin/busybox and /bin/sh, plus
 * /etc/regate-test-marker holding `marker` (so two images with different markers have different
 * layers and a push has to upload, not just mount).
 */
export function busyboxRootfsTar(marker: string): Buffer {
  const busybox = readFileSync(requireProgram(BUSYBOX_BINARY, 'busybox-static'));
  const entries: TarEntry[] = [
    { name: 'bin' },
    { name: 'bin/busybox', content: busybox, mode: 0o755 },
    { name: 'bin/sh', content: busybox, mode: 0o755 },
    { name: 'etc' },
    { name: 'etc/regate-test-marker', content: Buffer.from(`${marker}\n`) },
  ];
  return buildTar(entries);
}

/** Writes busyboxRootfsTar(marker) to `path` and returns the path. */
export function writeBusyboxRootfsTar(path: string, marker: string): string {
  writeFileSync(path, busyboxRootfsTar(marker));
  return path;
}

/** `docker import` of a busybox rootfs tar as `ref`; returns the image ID. */
export async function importBusyboxImage(engine: DockerEngine, ref: string, marker: string): Promise<string> {
  const tarPath = writeBusyboxRootfsTar(join(engine.dir, `busybox-${Date.now()}-${Math.random().toString(16).slice(2)}.tar`), marker);
  try {
    await engine.dockerChecked(['import', '--change', 'CMD ["/bin/sh"]', tarPath, ref]);
  } finally {
    rmSync(tarPath, { force: true });
  }
  return imageId(engine, ref);
}

/** The image ID (`sha256:…`, the config digest) of a local image. */
export async function imageId(engine: DockerEngine, ref: string): Promise<string> {
  const result = await engine.dockerChecked(['image', 'inspect', '--format', '{{.Id}}', ref]);
  return result.stdout.toString('utf8').trim();
}

// ---------------------------------------------------------------------------------------------
// What dockerd and the certs.d trust leave in /etc/docker

/** What of /etc/docker existed before the first engine or CA of this process, and how many hold it. */
let etcDocker: { holders: number; before: { dir: boolean; keyJson: boolean; certsD: boolean } } | undefined;

/**
 * Notes what /etc/docker held before this process's first engine or installed CA; once the last
 * one is gone, release() removes what they added (dockerd's key.json, an empty certs.d, an empty
 * /etc/docker), so the suite leaves the machine as it found it.
 */
function holdEtcDocker(): { release(): void } {
  etcDocker ??= { holders: 0, before: { dir: existsSync(ETC_DOCKER), keyJson: existsSync(DOCKER_KEY_JSON), certsD: existsSync(DOCKER_CERTS_D) } };
  etcDocker.holders += 1;
  let released = false;
  return {
    release: () => {
      if (released || !etcDocker) return;
      released = true;
      etcDocker.holders -= 1;
      if (etcDocker.holders > 0) return;
      const { before } = etcDocker;
      etcDocker = undefined;
      if (!before.keyJson) rmSync(DOCKER_KEY_JSON, { force: true });
      if (!before.certsD) removeIfEmpty(DOCKER_CERTS_D);
      if (!before.dir) removeIfEmpty(ETC_DOCKER);
    },
  };
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Gone already, or not empty: someone else's.
  }
}

// ---------------------------------------------------------------------------------------------
// Registry trust through /etc/docker/certs.d

/**
 * Installs `caFile` as /etc/docker/certs.d/HOSTPORT/ca.crt for the daemon to trust. Creates only
 * that HOSTPORT directory (refusing if it exists: it is someone else's) and remove() deletes it.
 */
export function installDockerCa(hostPortName: string, caFile: string): { dir: string; remove(): void } {
  const dir = join(DOCKER_CERTS_D, hostPortName);
  if (existsSync(dir)) throw new Error(`${dir} already exists; not touching another test's (or the machine's) registry trust`);
  const etc = holdEtcDocker();
  mkdirSync(DOCKER_CERTS_D, { recursive: true });
  mkdirSync(dir);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
    etc.release();
  };
  try {
    copyFileSync(caFile, join(dir, 'ca.crt'));
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, remove };
}
