// The HTTP client for both registries: curl, so the client side is identical and bodies stream
// from/to files (`-T` streams; `--data-binary @FILE` would load the file into memory).
// Every call takes `extra` curl arguments, for the TLS + auth runs: `--cacert CA -u USER:PASS`
// (see secure-registries.ts); the plain-HTTP runs pass none.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { trackChild } from './cleanup.js';

const MARK = '@@regate-bench@@';
const WRITE_OUT = `\n${MARK}%{http_code} %{size_upload} %{size_download} %{time_total}\n%header{location}\n`;

// No "Expect: 100-continue" round trip, HTTP/1.1 on both sides, quiet but show errors.
const COMMON = ['-sS', '--http1.1', '-H', 'Expect:'];

export interface CurlResult {
  status: number;
  uploaded: number;
  downloaded: number;
  timeTotal: number;
  location: string;
  body: string;
}

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCurl(args: string[], onStdout?: (chunk: Buffer) => void): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => (onStdout ? onStdout(chunk) : out.push(chunk)));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

async function curl(args: string[], what: string): Promise<CurlResult> {
  const exec = await runCurl([...COMMON, '-w', WRITE_OUT, ...args]);
  const at = exec.stdout.lastIndexOf(MARK);
  if (exec.code !== 0 || at < 0) {
    throw new Error(`${what}: curl exited ${exec.code}: ${exec.stderr.trim()} ${exec.stdout.slice(0, 500)}`);
  }
  const body = exec.stdout.slice(0, at).replace(/\n$/, '');
  const [stats = '', location = ''] = exec.stdout.slice(at + MARK.length).split('\n');
  const [status, uploaded, downloaded, timeTotal] = stats.split(' ').map(Number) as [number, number, number, number];
  return { status, uploaded, downloaded, timeTotal, location: location.trim(), body };
}

function expectStatus(res: CurlResult, want: number, what: string): void {
  if (res.status !== want) throw new Error(`${what}: HTTP ${res.status} (wanted ${want}): ${res.body.slice(0, 500)}`);
}

/** POST /v2/<repo>/blobs/uploads/ → the absolute upload URL from Location. */
export async function startUpload(base: string, repo: string, extra: readonly string[] = []): Promise<string> {
  const what = `POST ${repo} upload`;
  const res = await curl([...extra, '-X', 'POST', '-H', 'Content-Length: 0', `${base}/v2/${repo}/blobs/uploads/`], what);
  expectStatus(res, 202, what);
  if (!res.location) throw new Error(`${what}: no Location header`);
  return new URL(res.location, base).toString();
}

/** PATCH the whole file (streamed by curl -T), then PUT ?digest=. Returns the committed blob URL. */
export async function uploadAndCommit(
  base: string,
  repo: string,
  uploadUrl: string,
  file: string,
  size: number,
  digest: string,
  extra: readonly string[] = [],
): Promise<string> {
  const patchWhat = `PATCH ${file}`;
  const patch = await curl(
    [...extra, '-X', 'PATCH', '-T', file, '-H', 'Content-Type: application/octet-stream', uploadUrl],
    patchWhat,
  );
  expectStatus(patch, 202, patchWhat);
  if (patch.uploaded !== size) throw new Error(`${patchWhat}: curl sent ${patch.uploaded} of ${size} bytes`);
  // Distribution's Location carries a signed _state that changes with every chunk: use the new one.
  const next = new URL(patch.location || uploadUrl, base);
  next.searchParams.set('digest', digest);
  const putWhat = `PUT ${digest}`;
  const put = await curl([...extra, '-X', 'PUT', '-H', 'Content-Length: 0', next.toString()], putWhat);
  expectStatus(put, 201, putWhat);
  return new URL(put.location || `/v2/${repo}/blobs/${digest}`, base).toString();
}

/** A monolithic push into an open session: the whole file streamed by `curl -T` as PUT ?digest=. */
export async function putBlobMonolithic(base: string, uploadUrl: string, file: string, digest: string, extra: readonly string[] = []): Promise<void> {
  const url = new URL(uploadUrl, base);
  url.searchParams.set('digest', digest);
  const what = `PUT ${file} ?digest=${digest}`;
  const res = await curl([...extra, '-T', file, '-H', 'Content-Type: application/octet-stream', url.toString()], what);
  expectStatus(res, 201, what);
}

/** GET a blob to /dev/null; returns the byte count curl received. */
export async function pullBlob(url: string, extra: readonly string[] = []): Promise<number> {
  const what = `GET ${url}`;
  const res = await curl([...extra, '-o', '/dev/null', url], what);
  expectStatus(res, 200, what);
  return res.downloaded;
}

/** GET a blob and hash what arrives (outside any timing). */
export async function pullDigest(url: string, extra: readonly string[] = []): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const exec = await runCurl([...COMMON, ...extra, '-f', url], (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  if (exec.code !== 0) throw new Error(`GET ${url} for digest check: curl exited ${exec.code}: ${exec.stderr.trim()}`);
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

/** PUT a manifest (a small file, so --data-binary is fine) under `reference`; 201 expected. */
export async function putManifest(
  base: string,
  repo: string,
  reference: string,
  file: string,
  mediaType: string,
  extra: readonly string[] = [],
): Promise<CurlResult> {
  const what = `PUT manifest ${repo}:${reference}`;
  const res = await curl(
    [...extra, '-X', 'PUT', '-H', `Content-Type: ${mediaType}`, '--data-binary', `@${file}`, `${base}/v2/${repo}/manifests/${reference}`],
    what,
  );
  expectStatus(res, 201, what);
  return res;
}

/** HEAD a URL (any status); returns the status and the response headers, names lower-cased. */
export async function headRequest(
  url: string,
  headers: readonly string[] = [],
  extra: readonly string[] = [],
): Promise<{ status: number; headers: Map<string, string>; timeTotal: number }> {
  const what = `HEAD ${url}`;
  const args = [...extra, '-I', ...headers.flatMap((h) => ['-H', h]), url];
  const res = await curl(args, what);
  const found = new Map<string, string>();
  for (const line of res.body.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) found.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: res.status, headers: found, timeTotal: res.timeTotal };
}
