// A real one-node Ceph RGW (Debian's ceph 16) serving the Swift API on loopback, for one test file:
// one mon, one OSD on memstore (objects in RAM, gone when it stops), radosgw with the Swift API and
// its v1 auth, and the seeds' user (`demo:swift`). No cephx (auth none), messenger v2 only, one
// replica. Every daemon runs in the foreground in a session of its own and is stopped by PID.
import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireExecutable, runCommand, spawnServer, waitForHttp, type SpawnedServer } from './processes.js';

export interface CephRgw {
  /** v1 auth URL (`/auth/v1`, as the seeds configure it). */
  authUrl: string;
  username: string;
  password: string;
  /** http://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
}

export interface CephRgwOptions {
  /** Room in the OSD's memstore, bytes (default 4 GiB; memory is only used by what is stored). */
  storeBytes?: number;
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, storeBytes: number): string {
  return `[global]
fsid = ${fsid}
mon initial members = a
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms bind msgr1 = false
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon allow pool delete = true
run dir = ${dir}/run
log file = ${dir}/log/$name.log
keyring = ${dir}/keyring
osd objectstore = memstore
memstore device bytes = ${storeBytes}

[mon.a]
mon data = ${dir}/mon
admin socket = ${dir}/run/mon.a.asok

[osd.0]
osd data = ${dir}/osd
admin socket = ${dir}/run/osd.0.asok

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw enable apis = s3, swift, swift_auth, admin
rgw swift auth entry = auth
rgw data = ${dir}/rgw
admin socket = ${dir}/run/rgw.asok
`;
}

async function run(program: string, args: string[], what: string): Promise<string> {
  const result = await runCommand(requireExecutable(program), args, { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  return result.stdout.toString('utf8');
}

export async function startCephRgw(options: CephRgwOptions = {}): Promise<CephRgw> {
  const dir = await mkdtemp(join(tmpdir(), 'regate-ceph-'));
  const daemons: SpawnedServer[] = [];
  const stop = async (): Promise<void> => {
    for (const daemon of daemons.reverse()) await daemon.stop();
    daemons.length = 0;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const sub of ['run', 'log', 'mon', 'osd', 'rgw']) await mkdir(join(dir, sub));
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    const conf = join(dir, 'ceph.conf');
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, options.storeBytes ?? 4 * 1024 ** 3));
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')], 'monmaptool');
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], 'ceph-authtool');
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')], 'ceph-mon --mkfs');
    daemons.push(await spawnServer({ name: 'ceph-mon', command: requireExecutable('ceph-mon'), args: ['-c', conf, '-i', 'a', '-f'], ready: /(?:)/, detached: true }));
    const osdUuid = randomUUID();
    const id = (await run('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'new', osdUuid], 'ceph osd new')).trim();
    await run('ceph-osd', ['-c', conf, '-i', id, '--mkfs', '--osd-uuid', osdUuid], 'ceph-osd --mkfs');
    daemons.push(await spawnServer({ name: 'ceph-osd', command: requireExecutable('ceph-osd'), args: ['-c', conf, '-i', id, '-f'], ready: /(?:)/, detached: true }));
    const rgw = await spawnServer({ name: 'radosgw', command: requireExecutable('radosgw'), args: ['-c', conf, '-n', 'client.rgw', '-f'], ready: /(?:)/, detached: true });
    daemons.push(rgw);
    const url = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(`${url}/`, { timeoutMs: 90_000, isDead: () => rgw.exited() });
    await run('radosgw-admin', ['-c', conf, 'user', 'create', '--uid=demo', '--display-name=demo'], 'radosgw-admin user create');
    await run('radosgw-admin', ['-c', conf, 'subuser', 'create', '--uid=demo', '--subuser=demo:swift', '--access=full', '--secret=secretkey', '--key-type=swift'], 'radosgw-admin subuser create');
    return { authUrl: `${url}/auth/v1`, username: 'demo:swift', password: 'secretkey', url, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
