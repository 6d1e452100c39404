// A Node 20 base image made on this machine, standing in for the public `node:20-bookworm-slim`
// (no public registry is reachable here): Debian bookworm by mmdebstrap (minbase, the packages a
// slim image has that regate's Dockerfile uses), this machine's own Node 20 and npm copied into
// /usr/local as the official image has them, and its `node` user (uid 1000). The project's
// Dockerfile is then built against it with `--build-arg NODE_IMAGE=…`, unchanged.
//
// The machine reaches the npm registry through a CA of its own; the image trusts the machine's CA
// bundle through NODE_EXTRA_CA_CERTS, so `npm ci` inside `docker build` works here as it would
// against the public registry elsewhere.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DockerEngine } from './dockerd.js';
import { requireProgram } from './host-tools.js';
import { makeTempDir, runCommand } from './processes.js';

export const NODE_BASE_TAG = 'regate-test/node:20-bookworm-slim';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Builds the base rootfs with mmdebstrap and `docker import`s it into `engine` as NODE_BASE_TAG. */
export async function importNodeBaseImage(engine: DockerEngine): Promise<string> {
  const mmdebstrap = requireProgram('/usr/bin/mmdebstrap', 'mmdebstrap');
  const node = process.execPath;
  const npmDir = '/usr/lib/node_modules/npm';
  if (!existsSync(join(npmDir, 'bin', 'npm-cli.js'))) throw new Error(`npm is not at ${npmDir}`);
  const tmp = makeTempDir('regate-node-base-');
  try {
    const tar = join(tmp.path, 'rootfs.tar');
    const hooks = [
      `mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules"`,
      `cp ${node} "$1/usr/local/bin/node"`,
      `cp -a ${npmDir} "$1/usr/local/lib/node_modules/npm"`,
      `ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"`,
      `ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"`,
      `cp ${HOST_CA_BUNDLE} "$1/etc/ssl/certs/host-ca-certificates.crt"`,
      `chroot "$1" groupadd --gid 1000 node`,
      `chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node`,
      // What a slim image leaves out.
      `rm -rf "$1/var/lib/apt/lists"/* "$1/var/cache/apt"/*.bin "$1/usr/share/doc"/* "$1/usr/share/man"/*`,
    ];
    const args = [
      '--variant=minbase',
      '--include=passwd,libstdc++6,ca-certificates',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      ...hooks.map((hook) => `--customize-hook=${hook}`),
      'bookworm',
      tar,
      'http://deb.debian.org/debian',
    ];
    const built = await runCommand(mmdebstrap, args, { timeoutMs: 600_000 });
    if (built.code !== 0) throw new Error(`mmdebstrap failed (${built.code}):\n${built.stderr.slice(-4000)}`);
    await engine.dockerChecked(
      [
        'import',
        '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt',
        '--change', 'CMD ["node"]',
        tar,
        NODE_BASE_TAG,
      ],
      { timeoutMs: 300_000 },
    );
    return NODE_BASE_TAG;
  } finally {
    tmp.remove();
  }
}
