// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
import type { RequestContext } from '../context.js';
import { RegistryError } from '../errors.js';
import { Digest, validateName } from '../references.js';
import { parseRange } from '../range.js';
import { send } from '../respond.js';
import { blobTarget, report } from '../events.js';
import type { MirrorTarget } from '../mirror/mirror-names.js';

export async function getBlob(ctx: RequestContext): Promise<void> {
  const { req, res } = ctx;
  const name = validateName(ctx.params.name!);
  const digest = Digest.parse(ctx.params.digest!);
  const mirrored = ctx.mirrors?.target(name);
  // A plain pull (the whole blob, nothing conditional, no redirect): the link and the blob's own
  // answer in one round trip, where the driver can.
  const mayRedirect = ctx.settings.redirect && ctx.stores.blobs.redirects;
  const whole = req.method === 'GET' && req.headers.range === undefined && req.headers['if-none-match'] === undefined;
  if (whole && !mayRedirect) {
    const opened = await ctx.stores.blobs.open(name, digest);
    if (opened) return serveWhole(ctx, name, digest, opened);
    if (opened === undefined && !mirrored) return serveWhole(ctx, name, digest, opened);
  }
  if (mirrored && (await mirroredBlob(ctx, name, mirrored, digest))) return;
  // A HEAD may be answered from the blob descriptor cache; a GET reads storage anyway.
  const blob = req.method === 'HEAD' ? await ctx.stores.blobs.cachedStat(name, digest) : await ctx.stores.blobs.stat(name, digest, { together: true });
  if (!blob) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.toString() });
  // A HEAD is how a pushing client finds a layer it then skips uploading and links at its manifest
  // PUT: a GC pass running now keeps it. (A GET is a pull; it costs no extra storage write.) A
  // failed mark only weakens that protection, it never fails the request.
  if (req.method === 'HEAD' && !ctx.settings.readOnly) await ctx.stores.blobs.noteRead(digest).catch(() => undefined);
  const etag = `"${digest}"`;
  const common = commonHeaders(digest);
  const pulled = (): void => report(ctx, 'pull', blobTarget(req, name, digest.toString(), blob.size));
  if (req.headers['if-none-match'] === etag) {
    pulled();
    return send(req, res, 304, common);
  }
  if (req.method === 'GET' && ctx.settings.redirect) {
    const location = await redirectFor(ctx, digest);
    if (location) {
      pulled();
      return send(req, res, 307, { 'Docker-Content-Digest': digest.toString(), Location: location });
    }
  }

  const range = parseRange(req.headers.range, blob.size);
  if (range.kind === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', { range: req.headers.range, size: blob.size }, {
      message: 'requested range not satisfiable',
      headers: { 'Content-Range': `bytes */${blob.size}` },
    });
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, blob.size - 1];
  const length = end - start + 1;
  const headers: Record<string, string | number> = { ...common, 'Content-Type': 'application/octet-stream', 'Content-Length': length };
  if (range.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;
  const status = range.kind === 'partial' ? 206 : 200;
  if (req.method === 'HEAD' || length === 0) {
    pulled();
    return send(req, res, status, headers);
  }

  res.writeHead(status, headers);
  try {
    await ctx.stores.blobs.pipeTo(digest, res, start, length, blob.version);
  } catch (err) {
    if (res.destroyed) return; // the client went away mid-download: nothing to report to anyone
    throw err;
  }
  // As Distribution: a pull is reported once the blob was served.
  pulled();
  res.end();
}

/**
 * A blob of a mirrored name that is not stored yet: a whole GET is fetched once and streamed while
 * stored (true: answered); a HEAD is answered from the upstream's HEAD without fetching; a range
 * is fetched first and then served from storage (false: the caller serves it).
 */
async function mirroredBlob(ctx: RequestContext, name: string, target: MirrorTarget, digest: Digest): Promise<boolean> {
  const { req, res } = ctx;
  const mirrors = ctx.mirrors!;
  if (req.method === 'HEAD') {
    if (await ctx.stores.blobs.stat(name, digest)) return false;
    const size = await mirrors.headBlob(target, digest);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.toString() });
    send(req, res, 200, { ...commonHeaders(digest), 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    return true;
  }
  const whole = req.headers.range === undefined && req.headers['if-none-match'] === undefined;
  const answered = await mirrors.fillBlob(name, target, digest, whole ? res : undefined);
  if (answered) report(ctx, 'pull', blobTarget(req, name, digest.toString(), Number(res.getHeader('content-length') ?? 0)));
  return answered;
}

function commonHeaders(digest: Digest): Record<string, string> {
  return {
    'Docker-Content-Digest': digest.toString(),
    ETag: `"${digest}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
  };
}

type Opened = NonNullable<Awaited<ReturnType<RequestContext['stores']['blobs']['open']>>>;

async function serveWhole(ctx: RequestContext, name: string, digest: Digest, opened: Opened | undefined): Promise<void> {
  const { req, res } = ctx;
  if (!opened) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.toString() });
  res.writeHead(200, { ...commonHeaders(digest), 'Content-Type': 'application/octet-stream', 'Content-Length': opened.size });
  if (opened.size > 0) {
    try {
      await opened.pipeTo(res);
    } catch (err) {
      opened.cancel();
      if (res.destroyed) return; // the client went away mid-download: nothing to report to anyone
      throw err;
    }
  } else {
    opened.cancel();
  }
  report(ctx, 'pull', blobTarget(req, name, digest.toString(), opened.size));
  res.end();
}

/** The driver's direct URL for the blob; a failure to make one falls back to serving it here. */
async function redirectFor(ctx: RequestContext, digest: Digest): Promise<string | undefined> {
  try {
    return await ctx.stores.blobs.redirectUrl(digest);
  } catch (err) {
    ctx.logger?.warn('blob redirect failed; serving the blob directly', { digest: digest.toString(), error: (err as Error).message });
    return undefined;
  }
}

export async function deleteBlob(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const digest = Digest.parse(ctx.params.digest!);
  await ctx.stores.blobs.unlink(name, digest);
  report(ctx, 'delete', { digest: digest.toString(), repository: name });
  send(ctx.req, ctx.res, 202, { 'Docker-Content-Digest': digest.toString() });
}
