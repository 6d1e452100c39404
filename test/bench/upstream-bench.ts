// `npm run bench -- upstream` (issue 10): the two fronts for an existing registry, side by side in
// one run, in front of the same Distribution 2.8.2 (plain HTTP on loopback, filesystem root):
//   regate  upstream mode (regate.upstream), TLS + htpasswd
//   nginx   nginx-compat/regate-site.conf's streaming settings with auth_basic on the same users
//           file (bcrypt cost 10), TLS with the same certificate; worker_processes auto, as
//           Debian's nginx.conf has it
// Per front: push one 1 GiB layer (POST, then curl -T PUT ?digest=), pull it back (hashed as it
// arrives), and authenticated `HEAD /v2/<repo>/manifests/latest` with ab at 16 keep-alive
// connections for 10 s. Targets: push and pull ≥ 0.9× nginx, HEAD ≥ 10× nginx (nginx runs bcrypt
// on every request; regate caches a verified credential). BENCH_QUICK=1: a 256 MiB layer, 5 s.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abPath, runAb } from './ab.js';
import { trackChild } from './cleanup.js';
import { headRequest, pullDigest, putManifest, startUpload, uploadAndCommit } from './curl.js';
import { freePort, startRegistry, stopChild, type RunningRegistry } from './registries.js';
import { prepareSecureMaterial, startSecureRegate, TLS13_CIPHERS, type SecureMaterial, type SecureRegistry } from './secure-registries.js';
import { makeLayer } from './swift-bench.js';
import { requireProgram } from '../support/host-tools.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;
const SITE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../nginx-compat/regate-site.conf');

interface Front {
  name: string;
  url: string;
  curlArgs: string[];
  authorization: string;
  stop(): Promise<void>;
}

interface Row {
  name: string;
  pushMBs: number;
  pullMBs: number;
  headPerSec: number;
  headErrors: number;
}

/** nginx with the reference site's proxy settings, auth_basic in front of `upstream`. */
async function startNginx(dir: string, upstream: string, material: SecureMaterial): Promise<Front> {
  const binary = requireProgram('/usr/sbin/nginx', 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let site = readFileSync(SITE, 'utf8')
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`)
    .replace(/server 127\.0\.0\.1:5000;/, `server ${new URL(upstream).host};`)
    .replace(/ssl_certificate +\S+;/, `ssl_certificate ${material.certs.certFile};`)
    .replace(/ssl_certificate_key +\S+;/, `ssl_certificate_key ${material.certs.keyFile};`);
  // nginx checks the users file itself here (regate-site.conf leaves auth to regate).
  site = site.replace(/location \/ \{/, `location / {\n        auth_basic "${material.realm}";\n        auth_basic_user_file ${material.htpasswdPath};\n        proxy_set_header Authorization "";`);
  const sitePath = join(dir, 'site.conf');
  writeFileSync(sitePath, site);
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(
    confPath,
    `worker_processes auto;\ndaemon off;\nuser root;\npid ${join(dir, 'nginx.pid')};\nerror_log stderr warn;\nevents { worker_connections 1024; }\nhttp {\n    access_log off;\n    client_body_temp_path ${join(dir, 'body')};\n    proxy_temp_path ${join(dir, 'proxy')};\n    fastcgi_temp_path ${join(dir, 'fastcgi')};\n    uwsgi_temp_path ${join(dir, 'uwsgi')};\n    scgi_temp_path ${join(dir, 'scgi')};\n    include ${sitePath};\n}\n`,
  );
  const child = spawn(binary, ['-p', dir, '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  trackChild(child);
  let output = '';
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `https://127.0.0.1:${port}`;
  const { username, password } = material.user;
  const curlArgs = ['--cacert', material.certs.caFile, ...(TLS13_CIPHERS ? ['--tls13-ciphers', TLS13_CIPHERS] : []), '-u', `${username}:${password}`];
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${output}`);
    const probe = await headRequest(`${url}/v2/`, [], curlArgs).catch(() => undefined);
    if (probe?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`nginx did not answer an authenticated /v2/ within 15 s (last: ${probe?.status}): ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name: 'nginx 1.22 (reference site + auth_basic)', url, curlArgs, authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, stop: () => stopChild(child) };
}

function regateFront(r: SecureRegistry): Front {
  return { name: 'regate (upstream mode)', url: r.url, curlArgs: r.curlArgs, authorization: r.authorization!, stop: () => r.stop() };
}

async function measure(front: Front, layer: { file: string; size: number; digest: string }, seconds: number, dir: string, ab: string): Promise<Row> {
  const repo = `bench/upstream-${front.name.split(' ')[0]}`;
  const location = await startUpload(front.url, repo, front.curlArgs);
  let t = performance.now();
  await uploadAndCommit(front.url, repo, location, layer.file, layer.size, layer.digest, front.curlArgs);
  const push = (performance.now() - t) / 1000;
  t = performance.now();
  const pulled = await pullDigest(`${front.url}/v2/${repo}/blobs/${layer.digest}`, front.curlArgs);
  const pull = (performance.now() - t) / 1000;
  if (pulled.digest !== layer.digest) throw new Error(`${front.name}: pulled ${pulled.digest} for ${layer.digest}`);

  // A manifest to HEAD: an empty config and the layer.
  const config = Buffer.from('{}');
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, config);
  const configUpload = await startUpload(front.url, repo, front.curlArgs);
  await uploadAndCommit(front.url, repo, configUpload, configFile, config.length, configDigest, front.curlArgs);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifestFile = join(dir, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify({ schemaVersion: 2, mediaType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }] }));
  await putManifest(front.url, repo, 'latest', manifestFile, mediaType, front.curlArgs);
  const head = await runAb(ab, {
    url: `${front.url}/v2/${repo}/manifests/latest`,
    method: 'HEAD',
    headers: { authorization: front.authorization, accept: mediaType },
    connections: 16,
    seconds,
    timeoutSeconds: 30,
    csvFile: join(dir, `ab-${front.name.split(' ')[0]}.csv`),
  });
  const errors = Object.values(head.errors).reduce((a, b) => a + b, 0);
  return { name: front.name, pushMBs: layer.size / MB / push, pullMBs: layer.size / MB / pull, headPerSec: head.requestsPerSec, headErrors: errors };
}

function format(rows: Row[], layerMiB: number): string {
  const nginx = rows.find((r) => r.name.startsWith('nginx'))!;
  const pad = (s: string, n: number): string => s.padEnd(n);
  const lines = [`${pad(`front (Distribution 2.8.2 behind), ${layerMiB} MiB layer`, 50)}${pad('push MB/s', 11)}${pad('×nginx', 8)}${pad('pull MB/s', 11)}${pad('×nginx', 8)}${pad('HEAD req/s', 12)}×nginx`];
  for (const r of rows) {
    lines.push(
      `${pad(r.name, 50)}${pad(r.pushMBs.toFixed(0), 11)}${pad((r.pushMBs / nginx.pushMBs).toFixed(2), 8)}${pad(r.pullMBs.toFixed(0), 11)}${pad((r.pullMBs / nginx.pullMBs).toFixed(2), 8)}${pad(r.headPerSec.toFixed(0), 12)}${(r.headPerSec / nginx.headPerSec).toFixed(1)}${r.headErrors > 0 ? `  (${r.headErrors} errors: invalid)` : ''}`,
    );
  }
  lines.push('targets (issue 10): regate push and pull ≥ 0.9× nginx, HEAD ≥ 10× nginx (16 connections, bcrypt cost 10)');
  return lines.join('\n');
}

export async function runUpstreamBench(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-upstream-'));
  const fronts: Front[] = [];
  let distribution: RunningRegistry | undefined;
  try {
    const ab = abPath();
    const material = await prepareSecureMaterial(join(dir, 'material'), (m) => process.stderr.write(`bench upstream: ${m}\n`));
    const layerSize = quick ? 256 * MiB : 1024 * MiB;
    process.stderr.write('bench upstream: generating the layer…\n');
    const layer = await makeLayer(dir, 'layer', layerSize);
    distribution = await startRegistry('distribution', join(dir, 'distribution'), join(dir, 'distribution-root'));
    const rows: Row[] = [];
    for (const start of [
      async () => regateFront(await startSecureRegate(join(dir, 'regate'), '', material, true, distribution!.url)),
      () => startNginx(join(dir, 'nginx'), distribution!.url, material),
    ]) {
      const front = await start();
      fronts.push(front);
      process.stderr.write(`bench upstream: ${front.name}…\n`);
      rows.push(await measure(front, layer, quick ? 5 : 10, dir, ab));
      await front.stop();
    }
    const table = format(rows, layerSize / MiB);
    process.stdout.write(`\n${table}\n`);
    mkdirSync('.bench', { recursive: true });
    writeFileSync(join('.bench', 'upstream-results.json'), JSON.stringify(rows, null, 2));
  } finally {
    for (const f of fronts) await f.stop().catch(() => undefined);
    await distribution?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
