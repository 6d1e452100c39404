// Manifest media types and parsing: just enough structure to validate a manifest, find what it
// references (blobs, child manifests, subject) and describe it in a referrers index.
import Negotiator from 'negotiator';
import { RegistryError } from './errors.js';
import { Digest } from './references.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const IMAGE_MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
const SCHEMA1_TYPES = new Set<string>([MEDIA_TYPES.dockerSchema1, MEDIA_TYPES.dockerSchema1Signed]);

export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([...IMAGE_MANIFEST_TYPES, ...INDEX_TYPES]);

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
  urls?: string[];
}

export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** Config and layers of an image manifest; empty for an index. */
  blobs: Descriptor[];
  /** Child manifests of an index; empty for an image manifest. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** What the referrers API reports: artifactType, else the config's media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (reason: string): RegistryError => new RegistryError('MANIFEST_INVALID', { reason }, { message: `manifest invalid: ${reason}` });

/** The media type part of a Content-Type header, lower-cased, without parameters. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const bare = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return bare || undefined;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where} is not a descriptor`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${where}.mediaType is missing`);
  if (typeof d.digest !== 'string') throw invalid(`${where}.digest is missing`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where}.size is not a non-negative integer`);
  let digest: Digest;
  try {
    digest = Digest.parse(d.digest);
  } catch {
    throw invalid(`${where}.digest ${JSON.stringify(d.digest)} is not a valid digest`);
  }
  const descriptor: Descriptor = { mediaType: d.mediaType, digest, size: d.size };
  if (typeof d.artifactType === 'string') descriptor.artifactType = d.artifactType;
  if (isStringMap(d.annotations)) descriptor.annotations = d.annotations;
  if (typeof d.platform === 'object' && d.platform !== null) descriptor.platform = d.platform as Descriptor['platform'];
  if (Array.isArray(d.urls)) descriptor.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return descriptor;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Parses and validates a manifest. The media type comes from the document's `mediaType` field, else
 * from the Content-Type header, else from its shape; when both field and header name a manifest type
 * they must agree.
 */
export function parseManifest(content: Buffer, contentType?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw invalid(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const m = doc as Record<string, unknown>;
  const header = bareMediaType(contentType);
  if (m.schemaVersion === 1 || (header !== undefined && SCHEMA1_TYPES.has(header))) {
    throw new RegistryError('MANIFEST_INVALID', { reason: 'schema1 manifests are not supported' }, {
      message: 'Docker schema1 manifests are deprecated and not supported: push with a current client (schema2 or OCI)',
    });
  }
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('mediaType is not a string');
  const field = m.mediaType as string | undefined;
  if (field !== undefined && header !== undefined && MANIFEST_MEDIA_TYPES.has(header) && field !== header) {
    throw invalid(`mediaType ${field} does not match Content-Type ${header}`);
  }
  const mediaType =
    field ?? (header !== undefined && MANIFEST_MEDIA_TYPES.has(header) ? header : Array.isArray(m.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (!MANIFEST_MEDIA_TYPES.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);

  const parsed: ParsedManifest = { mediaType, kind: INDEX_TYPES.has(mediaType) ? 'index' : 'image', blobs: [], manifests: [] };
  if (m.subject !== undefined) parsed.subject = parseDescriptor(m.subject, 'subject');
  if (m.artifactType !== undefined) {
    if (typeof m.artifactType !== 'string') throw invalid('artifactType is not a string');
    parsed.artifactType = m.artifactType;
  }
  if (isStringMap(m.annotations)) parsed.annotations = m.annotations;

  if (parsed.kind === 'index') {
    if (!Array.isArray(m.manifests)) throw invalid('manifests is not an array');
    parsed.manifests = m.manifests.map((d, i) => parseDescriptor(d, `manifests[${i}]`));
  } else {
    if (m.config === undefined) throw invalid('config is missing');
    const config = parseDescriptor(m.config, 'config');
    if (m.layers !== undefined && !Array.isArray(m.layers)) throw invalid('layers is not an array');
    const layers = ((m.layers as unknown[] | undefined) ?? []).map((d, i) => parseDescriptor(d, `layers[${i}]`));
    parsed.blobs = [config, ...layers];
    parsed.artifactType ??= config.mediaType;
  }
  return parsed;
}

/** Layers that live elsewhere (foreign or non-distributable, with urls) are not required locally. */
export function isRemoteLayer(d: Descriptor): boolean {
  return (d.urls?.length ?? 0) > 0 || d.mediaType.includes('.foreign.') || d.mediaType.includes('nondistributable');
}

/**
 * Content negotiation (negotiator: q-values honoured, q=0 refuses): whether a client's Accept header
 * admits a manifest media type. No Accept header, one naming no valid type, or a wildcard admits
 * everything; `application/json` too, as in Distribution (old clients send it and read any manifest).
 */
export function accepts(acceptHeader: string | undefined, mediaType: string): boolean {
  if (!acceptHeader || acceptHeader.trim() === '') return true;
  const negotiator = new Negotiator({ headers: { accept: acceptHeader } });
  const named = negotiator.mediaTypes();
  // Nothing usable said (no type/subtype at all) is as no header; types all refused with q=0 refuse.
  if (named.length === 0) return !/[^\s,;/]+\/[^\s,;/]+/.test(acceptHeader);
  return negotiator.mediaTypes([mediaType]).length > 0 || named.includes('application/json');
}
