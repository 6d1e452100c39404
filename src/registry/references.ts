// Names, tags and digests, validated with the spec's grammar. Everything that reaches the storage
// layer has passed through here, which is what keeps a request from escaping the storage root.
import { createHash } from 'node:crypto';
import { RegistryError } from './errors.js';
import type { DigestParts } from '../storage/paths.js';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
export const NAME_PATTERN = `${NAME_COMPONENT}(?:/${NAME_COMPONENT})*`;
export const TAG_PATTERN = '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}';
export const DIGEST_PATTERN = '[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';

const NAME_RE = new RegExp(`^${NAME_PATTERN}$`);
const TAG_RE = new RegExp(`^${TAG_PATTERN}$`);
const DIGEST_RE = new RegExp(`^${DIGEST_PATTERN}$`);

/** Distribution's limit; also keeps storage paths within what every backend accepts. */
export const MAX_NAME_LENGTH = 255;

/** Algorithms regate can verify, with the length of their hex encoding. */
const SUPPORTED_ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };

export class Digest implements DigestParts {
  private constructor(
    readonly algorithm: string,
    readonly encoded: string,
  ) {}

  static parse(value: string): Digest {
    if (!DIGEST_RE.test(value)) throw new RegistryError('DIGEST_INVALID', { digest: value }, { message: 'invalid digest format' });
    const colon = value.indexOf(':');
    const algorithm = value.slice(0, colon);
    const encoded = value.slice(colon + 1);
    const hexLength = SUPPORTED_ALGORITHMS[algorithm];
    if (hexLength === undefined) {
      throw new RegistryError('DIGEST_INVALID', { digest: value }, { message: `unsupported digest algorithm ${algorithm}` });
    }
    if (encoded.length !== hexLength || !/^[a-f0-9]+$/.test(encoded)) {
      throw new RegistryError('DIGEST_INVALID', { digest: value }, { message: `invalid ${algorithm} digest` });
    }
    return new Digest(algorithm, encoded);
  }

  static isDigest(value: string): boolean {
    return value.includes(':');
  }

  static isSupportedAlgorithm(algorithm: string): boolean {
    return Object.hasOwn(SUPPORTED_ALGORITHMS, algorithm);
  }

  static ofContent(content: Buffer, algorithm = 'sha256'): Digest {
    return new Digest(algorithm, createHash(algorithm).update(content).digest('hex'));
  }

  equals(other: DigestParts): boolean {
    return this.algorithm === other.algorithm && this.encoded === other.encoded;
  }

  toString(): string {
    return `${this.algorithm}:${this.encoded}`;
  }
}

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function validateName(name: string): string {
  if (name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) {
    throw new RegistryError('NAME_INVALID', { name: name.slice(0, MAX_NAME_LENGTH + 1) }, { message: 'invalid repository name' });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export type ManifestReference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/** A manifest reference is a tag or a digest; which one is decided by the presence of a colon. */
export function parseManifestReference(reference: string): ManifestReference {
  if (Digest.isDigest(reference)) return { digest: Digest.parse(reference) };
  if (!isValidTag(reference)) throw new RegistryError('TAG_INVALID', { tag: reference }, { message: 'invalid tag' });
  return { tag: reference };
}

/** Upload session ids are UUIDs minted here; anything else cannot name an upload. */
const UPLOAD_ID_RE = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export function validateUploadId(id: string): string {
  if (!UPLOAD_ID_RE.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: id });
  return id;
}
