// deploy/systemd/ checked with systemd's own tools (no systemd runs as PID 1 here, so the unit is
// checked, not run): `systemd-analyze verify`, the exposure level of `systemd-analyze security
// --offline=true` held at what it is, the sysusers and tmpfiles snippets applied to a scratch root,
// ExecStart's node flags those of src/runtime-flags.ts, and the example config accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, REPO_ROOT, runCommand } from '../support/processes.js';
import { requireProgram } from '../support/host-tools.js';
import { NODE_ENV, NODE_FLAGS } from '../../src/runtime-flags.js';
import { loadConfig } from '../../src/config/load-config.js';

const DIR = join(REPO_ROOT, 'deploy', 'systemd');
const UNIT = join(DIR, 'regate.service');
/** The exposure `systemd-analyze security` gives the unit today; a change that raises it fails here. */
const EXPOSURE_HELD = 1.2;

const analyze = (): string => requireProgram('/usr/bin/systemd-analyze', 'systemd');

test('systemd-analyze verify accepts the unit', async () => {
  const result = await runCommand(analyze(), ['verify', UNIT], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr.trim(), '', 'no warnings');
});

test(`its exposure level (systemd-analyze security --offline=true) is "OK" or better, at most ${EXPOSURE_HELD}`, async (t) => {
  const result = await runCommand(analyze(), ['security', '--offline=true', '--no-pager', UNIT], { timeoutMs: 60_000 });
  const out = result.stdout.toString('utf8');
  const m = /Overall exposure level for regate\.service: (\d+\.\d+) (\S+)/.exec(out);
  assert.ok(m, `${out}\n${result.stderr}`);
  t.diagnostic(`systemd-analyze security: exposure ${m[1]} ${m[2]}`);
  assert.ok(Number(m[1]) <= EXPOSURE_HELD, `exposure ${m[1]} > ${EXPOSURE_HELD}:\n${out}`);
  assert.ok(['OK', 'SAFE'].includes(m[2]!), m[2]);
});

test('the sysusers and tmpfiles snippets make the user and its directories (applied to a scratch root)', async () => {
  const root = makeTempDir('regate-systemd-root-');
  try {
    mkdirSync(join(root.path, 'etc'));
    const sysusers = await runCommand(requireProgram('/usr/bin/systemd-sysusers', 'systemd'), [`--root=${root.path}`, join(DIR, 'regate.sysusers')], { timeoutMs: 30_000 });
    assert.equal(sysusers.code, 0, sysusers.stderr);
    const passwd = readFileSync(join(root.path, 'etc', 'passwd'), 'utf8');
    const entry = /^regate:x:(\d+):(\d+):[^:]*:\/var\/lib\/regate:\/usr\/sbin\/nologin$/m.exec(passwd);
    assert.ok(entry, passwd);
    const tmpfiles = await runCommand(requireProgram('/usr/bin/systemd-tmpfiles', 'systemd'), [`--root=${root.path}`, '--create', join(DIR, 'regate.tmpfiles')], { timeoutMs: 30_000 });
    assert.equal(tmpfiles.code, 0, tmpfiles.stderr);
    const state = statSync(join(root.path, 'var', 'lib', 'regate'));
    assert.equal(state.mode & 0o777, 0o700);
    assert.equal(state.uid, Number(entry[1]));
    const config = statSync(join(root.path, 'etc', 'regate'));
    assert.equal(config.mode & 0o777, 0o750);
    assert.equal(config.gid, Number(entry[2]));
  } finally {
    root.remove();
  }
});

test("ExecStart runs node with regate's runtime flags, and the example config.yml is valid", () => {
  const unit = readFileSync(UNIT, 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!;
  assert.ok(execStart.startsWith(`/usr/bin/node ${NODE_FLAGS.join(' ')} /opt/regate/dist/src/main.js serve `), execStart);
  for (const [name, value] of Object.entries(NODE_ENV)) assert.match(unit, new RegExp(`^Environment=${name}=${value}$`, 'm'));
  assert.match(execStart, /\/etc\/regate\/config\.yml$/);
  // The drain fits in the stop timeout.
  const drain = Number(/--drain-default (\d+)s/.exec(execStart)![1]);
  const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1]);
  assert.ok(drain < stop, `drain ${drain}s, TimeoutStopSec ${stop}s`);
  const config = loadConfig(join(DIR, 'config.yml'), {});
  assert.equal(config.http.drainTimeoutMs, drain * 1000, 'the example config drains as long as the unit expects');
  assert.equal(config.auth?.htpasswd?.path, '/etc/regate/htpasswd');
  assert.equal(config.storage?.parameters.rootdirectory, '/var/lib/regate/data');
  assert.equal(config.regate.tls.dir, '/var/lib/regate/certs');
});
