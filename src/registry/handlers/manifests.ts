// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
import type { RequestContext } from '../context.js';
import { RegistryError } from '../errors.js';
import { Digest, isValidTag, parseManifestReference, validateName, type ManifestReference } from '../references.js';
import { accepts, bareMediaType, isRemoteLayer, MEDIA_TYPES, parseManifest, type ParsedManifest } from '../manifests.js';
import { readSmallBody, send } from '../respond.js';
import { absoluteUrl, report, type EventTarget } from '../events.js';
import { eachLimited } from '../../each-limited.js';

/** The event target of a manifest (Distribution's: by digest, references with includereferences). */
function manifestTarget(ctx: RequestContext, name: string, digest: Digest, content: Buffer, mediaType: string, parsed: ParsedManifest | undefined, tag?: string): EventTarget {
  const references = parsed ? [...parsed.blobs, ...parsed.manifests].map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest.toString() })) : [];
  return {
    mediaType,
    size: content.length,
    digest: digest.toString(),
    repository: name,
    url: absoluteUrl(ctx.req, `/v2/${name}/manifests/${digest}`),
    ...(tag !== undefined ? { tag } : {}),
    ...(references.length > 0 ? { references } : {}),
  };
}

const manifestUnknown = (name: string, reference: string): RegistryError =>
  new RegistryError('MANIFEST_UNKNOWN', { name, reference });

/**
 * The reference of a read or a delete: one that is neither a valid tag nor a digest names nothing,
 * so it is 404 MANIFEST_UNKNOWN (as from Distribution, whose route does not match it), not 400.
 * Only a PUT, which would create the name, refuses it as TAG_INVALID.
 */
function existingReference(name: string, reference: string): ManifestReference {
  if (!Digest.isDigest(reference) && !isValidTag(reference)) throw manifestUnknown(name, reference);
  return parseManifestReference(reference);
}

async function resolveDigest(ctx: RequestContext, name: string, reference: string): Promise<Digest> {
  const ref = existingReference(name, reference);
  if (ref.digest) return ref.digest;
  const target = await ctx.stores.tags.resolve(name, ref.tag);
  if (!target) throw manifestUnknown(name, reference);
  return Digest.parse(`${target.algorithm}:${target.encoded}`);
}

/** The platform Distribution picks when a client that cannot read lists asks for one. */
const DEFAULT_PLATFORM = { os: 'linux', architecture: 'amd64' };

export async function getManifest(ctx: RequestContext): Promise<void> {
  const { req, res } = ctx;
  const name = validateName(ctx.params.name!);
  const reference = ctx.params.reference!;
  // A mirrored name: what the upstream has is fetched (or, by tag, checked) first, then served from storage.
  const mirrored = ctx.mirrors?.target(name);
  if (mirrored) {
    existingReference(name, reference);
    await ctx.mirrors!.refreshManifest(name, mirrored, reference);
  }
  let digest = await resolveDigest(ctx, name, reference);
  let content = await ctx.stores.manifests.get(name, digest);
  if (!content) throw manifestUnknown(name, reference);
  if (mirrored) ctx.mirrors!.notePull(name, mirrored, digest);
  let parsed = safeParse(content);
  const accept = req.headers.accept;
  if (parsed && !accepts(accept, parsed.mediaType)) {
    // An old client that cannot read a Docker manifest list, asking by tag, gets the default
    // platform's manifest, as from Distribution. Never for a digest: that would answer a digest
    // with other content. Never for an OCI index either (Distribution answers 404 there too).
    const byTag = !Digest.isDigest(reference);
    const child =
      byTag && parsed.mediaType === MEDIA_TYPES.dockerManifestList
        ? parsed.manifests.find((m) => m.platform?.os === DEFAULT_PLATFORM.os && m.platform?.architecture === DEFAULT_PLATFORM.architecture && accepts(accept, m.mediaType))
        : undefined;
    const childContent = child ? await ctx.stores.manifests.get(name, child.digest) : undefined;
    if (!child || !childContent) {
      throw new RegistryError('MANIFEST_UNKNOWN', { name, reference, mediaType: parsed.mediaType }, {
        message: `manifest is ${parsed.mediaType}, which the Accept header does not allow`,
      });
    }
    digest = child.digest;
    content = childContent;
    parsed = safeParse(content);
  }
  const etag = `"${digest}"`;
  const headers = {
    'Content-Type': parsed?.mediaType ?? storedMediaType(content),
    'Content-Length': content.length,
    'Docker-Content-Digest': digest.toString(),
    ETag: etag,
  };
  const tag = Digest.isDigest(reference) ? undefined : reference;
  report(ctx, 'pull', manifestTarget(ctx, name, digest, content, headers['Content-Type'], parsed, tag));
  if (req.headers['if-none-match'] === etag) return send(req, res, 304, headers);
  send(req, res, 200, headers, content);
}

/**
 * The media type of a stored manifest regate would not accept today: a schema1 manifest that an
 * older registry wrote into the same root is still served, with the type its clients expect.
 */
function storedMediaType(content: Buffer): string {
  try {
    const doc = JSON.parse(content.toString('utf8')) as { schemaVersion?: unknown; mediaType?: unknown; signatures?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    if (doc.schemaVersion === 1) return Array.isArray(doc.signatures) ? MEDIA_TYPES.dockerSchema1Signed : MEDIA_TYPES.dockerSchema1;
  } catch {
    // not JSON: fall through
  }
  return 'application/json';
}

/** Manifests written by other registries may be of kinds regate does not accept; still serve them. */
function safeParse(content: Buffer): ParsedManifest | undefined {
  try {
    return parseManifest(content);
  } catch {
    return undefined;
  }
}

export async function putManifest(ctx: RequestContext): Promise<void> {
  const { req, res, settings } = ctx;
  const name = validateName(ctx.params.name!);
  const ref = parseManifestReference(ctx.params.reference!);
  // The next distribution-spec: `?tag=a&tag=b` tags the pushed manifest under each name. Every tag
  // is checked before anything is stored.
  const tags = [...new Set([...(ref.tag !== undefined ? [ref.tag] : []), ...ctx.query.getAll('tag')])];
  for (const tag of tags) if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', { tag }, { message: 'invalid tag' });
  const tooLarge = (): RegistryError =>
    new RegistryError('SIZE_INVALID', { limit: settings.manifestMaxBytes }, { status: 413, message: `manifest exceeds the limit of ${settings.manifestMaxBytes} bytes` });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > settings.manifestMaxBytes) throw tooLarge();
  const content = await readSmallBody(req, settings.manifestMaxBytes, tooLarge);
  const contentType = bareMediaType(req.headers['content-type']);
  const manifest = parseManifest(content, contentType);
  const digest = Digest.ofContent(content, ref.digest?.algorithm);
  if (ref.digest && !ref.digest.equals(digest)) {
    throw new RegistryError('DIGEST_INVALID', { expected: ref.digest.toString(), actual: digest.toString() }, { message: 'manifest digest does not match the reference' });
  }
  // Everything this manifest links is claimed before it is checked, so a GC pass running now keeps it
  // (the checks run beside the claim's last reads: claimAnd).
  const claimed = [digest, ...manifest.blobs.filter((b) => !isRemoteLayer(b)).map((b) => b.digest), ...manifest.manifests.map((m) => m.digest)];
  const { claim, checked } = await ctx.stores.blobs.claimAnd(claimed, () => findReferencedContent(ctx, name, digest, manifest));
  requireReferencedContent(manifest, checked);
  await ctx.stores.blobs.refreshClaim(claim);
  await ctx.stores.referrers.beforePut(name);
  await ctx.stores.manifests.put(name, digest, content, { storedSize: checked.self });
  // Before the 201, so a referrers query right after the push lists it.
  await ctx.stores.referrers.record(name, digest, content, manifest);
  for (const tag of tags) await ctx.stores.tags.tag(name, tag, digest);
  const headers: Record<string, string | string[]> = {
    Location: `/v2/${name}/manifests/${digest}`,
    'Docker-Content-Digest': digest.toString(),
  };
  if (manifest.subject) headers['OCI-Subject'] = manifest.subject.digest.toString();
  if (tags.length > 0) headers['OCI-Tag'] = tags;
  // One push per tag (Distribution's one tag per PUT), or one without a tag for a push by digest.
  for (const tag of tags.length > 0 ? tags : [undefined]) report(ctx, 'push', manifestTarget(ctx, name, digest, content, manifest.mediaType, manifest, tag));
  send(req, res, 201, headers);
}

/** How many existence checks of one manifest PUT run at once (each is a storage round trip). */
const CHECKS_AT_ONCE = 16;

interface FoundContent {
  /** The size the manifest's own bytes are stored at already, if they are. */
  self: number | undefined;
  blobs: Array<Awaited<ReturnType<RequestContext['stores']['blobs']['stat']>>>;
  children: boolean[];
}

async function findReferencedContent(ctx: RequestContext, name: string, digest: Digest, manifest: ParsedManifest): Promise<FoundContent> {
  // The checks only read, so they run side by side (a remote Swift costs a round trip each); the
  // answers are then weighed in the manifest's order, so the error is the same as one by one.
  const blobs = manifest.blobs.filter((blob) => !isRemoteLayer(blob));
  const found: FoundContent = { self: undefined, blobs: [], children: [] };
  await Promise.all([
    ctx.stores.blobs.globalSize(digest).then((size) => void (found.self = size)),
    eachLimited(blobs.keys(), CHECKS_AT_ONCE, async (i) => void (found.blobs[i] = await ctx.stores.blobs.stat(name, blobs[i]!.digest, { together: true }))),
    eachLimited(manifest.manifests.keys(), CHECKS_AT_ONCE, async (i) => void (found.children[i] = await ctx.stores.manifests.exists(name, manifest.manifests[i]!.digest))),
  ]);
  return found;
}

function requireReferencedContent(manifest: ParsedManifest, { blobs: found, children }: FoundContent): void {
  const blobs = manifest.blobs.filter((blob) => !isRemoteLayer(blob));
  const missing: string[] = [];
  blobs.forEach((blob, i) => {
    const stat = found[i];
    if (!stat) missing.push(blob.digest.toString());
    else if (stat.size !== blob.size) {
      throw new RegistryError('MANIFEST_INVALID', { digest: blob.digest.toString(), declared: blob.size, actual: stat.size }, { message: 'manifest declares a wrong size for a blob' });
    }
  });
  manifest.manifests.forEach((child, i) => {
    if (!children[i]) missing.push(child.digest.toString());
  });
  if (missing.length > 0) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digests: missing });
}

export async function deleteManifest(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const ref = existingReference(name, ctx.params.reference!);
  if (ref.tag !== undefined) {
    if (!(await ctx.stores.tags.untag(name, ref.tag))) throw manifestUnknown(name, ref.tag);
    report(ctx, 'delete', { repository: name, tag: ref.tag });
    return send(ctx.req, ctx.res, 202);
  }
  // Deleting a revision also removes the tags that point at it, as Distribution does.
  const tags = await ctx.stores.tags.tagsPointingAt(name, ref.digest);
  // Its referrers entry goes before the revision (its subject is read from the content it still has).
  // (A revision whose bytes are gone has no subject left to find its entry by.)
  const content = await ctx.stores.manifests.get(name, ref.digest);
  if (content) await ctx.stores.referrers.forget(name, ref.digest, content);
  if (!(await ctx.stores.manifests.delete(name, ref.digest))) throw manifestUnknown(name, ref.digest.toString());
  for (const tag of tags) await ctx.stores.tags.untag(name, tag);
  report(ctx, 'delete', { digest: ref.digest.toString(), repository: name });
  for (const tag of tags) report(ctx, 'delete', { repository: name, tag });
  send(ctx.req, ctx.res, 202);
}
