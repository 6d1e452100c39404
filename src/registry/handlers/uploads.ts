// POST /v2/<name>/blobs/uploads/            start (monolithic with ?digest=, mount with ?mount=&from=)
// PATCH/GET/PUT/DELETE /v2/<name>/blobs/uploads/<uuid>   chunk, status, complete, cancel
import type { RequestContext } from '../context.js';
import { RegistryError } from '../errors.js';
import { Digest, isValidName, validateName, validateUploadId } from '../references.js';
import { parseContentRange } from '../range.js';
import { send } from '../respond.js';
import { blobTarget, report } from '../events.js';
import type { AppendOptions } from '../../storage/upload-store.js';
import { UploadOffsetError } from '../../storage/store-errors.js';

const uploadLocation = (name: string, id: string): string => `/v2/${name}/blobs/uploads/${id}`;

/** The spec's Range for an upload: the inclusive span received so far ("0-0" when empty, as Distribution). */
export const uploadRange = (size: number): string => `0-${Math.max(0, size - 1)}`;

function uploadHeaders(name: string, id: string, size: number): Record<string, string> {
  return { Location: uploadLocation(name, id), Range: uploadRange(size), 'Docker-Upload-UUID': id };
}

/** Content-Length when the request has one; a chunked body has none and is counted as it streams. */
function declaredLength(ctx: RequestContext): number | undefined {
  const raw = ctx.req.headers['content-length'];
  if (raw === undefined || ctx.req.headers['transfer-encoding'] !== undefined) return undefined;
  return Number(raw);
}

/**
 * A Content-Range that is not `<start>-<end>` cannot be fixed by resuming (416 tells a client to ask
 * where the upload is and go on from there): it is a malformed request.
 */
function malformedContentRange(ctx: RequestContext): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', { contentRange: ctx.req.headers['content-range'] }, {
    message: 'Content-Range must be <start>-<end>',
  });
}

function appendOptions(ctx: RequestContext, withRange: boolean): AppendOptions {
  const expectedLength = declaredLength(ctx);
  const options: AppendOptions = { maxTotalBytes: ctx.settings.blobMaxBytes };
  if (expectedLength !== undefined) options.expectedLength = expectedLength;
  if (ctx.settings.blobMaxBytes > 0 && expectedLength !== undefined && expectedLength > ctx.settings.blobMaxBytes) {
    throw new RegistryError('SIZE_INVALID', { limit: ctx.settings.blobMaxBytes }, { status: 413, message: 'blob exceeds the size limit' });
  }
  if (withRange) {
    const range = parseContentRange(ctx.req.headers['content-range']);
    if (range === 'invalid') throw malformedContentRange(ctx);
    if (range) {
      if (expectedLength !== undefined && range.end - range.start + 1 !== expectedLength) {
        throw new RegistryError('SIZE_INVALID', { contentRange: ctx.req.headers['content-range'], contentLength: expectedLength }, {
          message: 'Content-Range and Content-Length disagree',
        });
      }
      options.startOffset = range.start;
      options.expectedLength ??= range.end - range.start + 1;
    }
  }
  return options;
}

async function complete(ctx: RequestContext, name: string, id: string, digest: Digest, withBody: boolean, fresh = false): Promise<void> {
  const lastChunk = withBody ? { body: ctx.req, options: appendOptions(ctx, true) } : undefined;
  const stored = await ctx.stores.uploads.commit(name, id, digest, lastChunk, { fresh });
  report(ctx, 'push', blobTarget(ctx.req, name, digest.toString(), stored.size));
  send(ctx.req, ctx.res, 201, {
    Location: `/v2/${name}/blobs/${digest}`,
    'Docker-Content-Digest': digest.toString(),
  });
}

export async function startUpload(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const mount = ctx.query.get('mount');
  if (mount !== null) {
    const digest = Digest.parse(mount);
    const from = ctx.query.get('from');
    // A `from` that is no repository name cannot be mounted from: a plain upload starts, as the
    // spec has a registry do whenever it cannot mount (Distribution ignores it too).
    if (from !== null && isValidName(from)) {
      const source = await ctx.stores.blobs.mount(from, name, digest);
      if (source) {
        report(ctx, 'mount', { ...blobTarget(ctx.req, name, digest.toString(), source.size), fromRepository: from });
        return send(ctx.req, ctx.res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest.toString() });
      }
    }
    // Not mountable: fall through to a normal upload session, as the spec says.
  }
  // The next distribution-spec lets a client announce the algorithm of a chunked upload. Either
  // supported one commits (a digest of another algorithm than the running hash is computed from
  // the stored bytes); anything else is refused before a session exists.
  const algorithm = ctx.query.get('digest-algorithm');
  if (algorithm !== null && !Digest.isSupportedAlgorithm(algorithm)) {
    throw new RegistryError('DIGEST_INVALID', { algorithm }, { message: `unsupported digest algorithm ${algorithm} (sha256 or sha512)` });
  }
  const digestParam = ctx.query.get('digest');
  const digest = digestParam !== null ? Digest.parse(digestParam) : undefined;
  // Validate the body's framing before creating anything, so a refused request leaves no session.
  if (digest) appendOptions(ctx, false);
  const id = await ctx.stores.uploads.create(name);
  if (digest) return complete(ctx, name, id, digest, true, true);
  send(ctx.req, ctx.res, 202, uploadHeaders(name, id, 0));
}

export async function patchUpload(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const id = validateUploadId(ctx.params.uuid!);
  const size = await ctx.stores.uploads.append(name, id, ctx.req, appendOptions(ctx, true));
  send(ctx.req, ctx.res, 202, uploadHeaders(name, id, size));
}

export async function uploadStatus(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const id = validateUploadId(ctx.params.uuid!);
  const size = await ctx.stores.uploads.size(name, id);
  send(ctx.req, ctx.res, 204, uploadHeaders(name, id, size));
}

export async function completeUpload(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const id = validateUploadId(ctx.params.uuid!);
  const digestParam = ctx.query.get('digest');
  if (digestParam === null) throw new RegistryError('DIGEST_INVALID', { reason: 'the digest query parameter is required' });
  const digest = Digest.parse(digestParam);
  const hasBody = (declaredLength(ctx) ?? 0) > 0 || ctx.req.headers['transfer-encoding'] !== undefined;
  if (!hasBody && ctx.req.headers['content-range'] !== undefined) {
    // A closing PUT without a body may still say where it thinks the upload is: it must be right.
    const range = parseContentRange(ctx.req.headers['content-range']);
    if (range === 'invalid') throw malformedContentRange(ctx);
    const size = await ctx.stores.uploads.size(name, id);
    if (range && range.start !== size) throw new UploadOffsetError(size, range.start);
  }
  await complete(ctx, name, id, digest, hasBody);
}

export async function cancelUpload(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const id = validateUploadId(ctx.params.uuid!);
  await ctx.stores.uploads.cancel(name, id);
  send(ctx.req, ctx.res, 204);
}
