// The on-storage layout, byte-for-byte CNCF Distribution's, so a filesystem root or Swift container
// written by registry:2 is served as-is and the other way round. Pure: path specs in, strings out.
// regate's own entries beside the tree, and why: docs/architecture.md, "Storage layout".
//
//   /docker/registry/v2/
//     blobs/<alg>/<first two hex>/<hex>/data              the bytes of every blob and manifest
//     repositories/<name>/
//       _layers/<alg>/<hex>/link                          "<alg>:<hex>": the blob belongs to the repo
//       _manifests/revisions/<alg>/<hex>/link             a manifest revision of the repo
//       _manifests/tags/<tag>/current/link                the digest the tag points at now
//       _manifests/tags/<tag>/index/<alg>/<hex>/link      every digest the tag ever pointed at
//       _uploads/<uuid>/data                              bytes received so far
//       _uploads/<uuid>/startedat                         RFC 3339 start time
//       _uploads/<uuid>/hashstates/<alg>/<offset>         Distribution's saved hash states (read-only here)
//     regate/                                             regate's own bookkeeping (GC, referrers index; see below)

export const ROOT = '/docker/registry/v2';
export const REPOSITORIES_ROOT = `${ROOT}/repositories`;
export const BLOBS_ROOT = `${ROOT}/blobs`;

/** A parsed digest: `algorithm:encoded`, already validated by the registry layer. */
export interface DigestParts {
  readonly algorithm: string;
  readonly encoded: string;
}

export type PathSpec =
  | { kind: 'blobData'; digest: DigestParts }
  | { kind: 'blobDir'; digest: DigestParts }
  | { kind: 'repository'; name: string }
  | { kind: 'layerLink'; name: string; digest: DigestParts }
  | { kind: 'layersRoot'; name: string }
  | { kind: 'manifestRevisionsRoot'; name: string }
  | { kind: 'manifestRevisionLink'; name: string; digest: DigestParts }
  | { kind: 'manifestRevisionDir'; name: string; digest: DigestParts }
  | { kind: 'tagsRoot'; name: string }
  | { kind: 'tagDir'; name: string; tag: string }
  | { kind: 'tagCurrentLink'; name: string; tag: string }
  | { kind: 'tagIndexRoot'; name: string; tag: string }
  | { kind: 'tagIndexLink'; name: string; tag: string; digest: DigestParts }
  | { kind: 'uploadsRoot'; name: string }
  | { kind: 'uploadDir'; name: string; id: string }
  | { kind: 'uploadData'; name: string; id: string }
  | { kind: 'uploadStartedAt'; name: string; id: string }
  | { kind: 'uploadHashStates'; name: string; id: string; algorithm: string };

const digestDir = (d: DigestParts): string => `${d.algorithm}/${d.encoded}`;

export function pathFor(spec: PathSpec): string {
  switch (spec.kind) {
    case 'blobDir':
      return `${BLOBS_ROOT}/${spec.digest.algorithm}/${spec.digest.encoded.slice(0, 2)}/${spec.digest.encoded}`;
    case 'blobData':
      return `${pathFor({ kind: 'blobDir', digest: spec.digest })}/data`;
    case 'repository':
      return `${REPOSITORIES_ROOT}/${spec.name}`;
    case 'layersRoot':
      return `${REPOSITORIES_ROOT}/${spec.name}/_layers`;
    case 'layerLink':
      return `${REPOSITORIES_ROOT}/${spec.name}/_layers/${digestDir(spec.digest)}/link`;
    case 'manifestRevisionsRoot':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/revisions`;
    case 'manifestRevisionDir':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/revisions/${digestDir(spec.digest)}`;
    case 'manifestRevisionLink':
      return `${pathFor({ kind: 'manifestRevisionDir', name: spec.name, digest: spec.digest })}/link`;
    case 'tagsRoot':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/tags`;
    case 'tagDir':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/tags/${spec.tag}`;
    case 'tagCurrentLink':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/tags/${spec.tag}/current/link`;
    case 'tagIndexRoot':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/tags/${spec.tag}/index`;
    case 'tagIndexLink':
      return `${REPOSITORIES_ROOT}/${spec.name}/_manifests/tags/${spec.tag}/index/${digestDir(spec.digest)}/link`;
    case 'uploadsRoot':
      return `${REPOSITORIES_ROOT}/${spec.name}/_uploads`;
    case 'uploadDir':
      return `${REPOSITORIES_ROOT}/${spec.name}/_uploads/${spec.id}`;
    case 'uploadData':
      return `${REPOSITORIES_ROOT}/${spec.name}/_uploads/${spec.id}/data`;
    case 'uploadStartedAt':
      return `${REPOSITORIES_ROOT}/${spec.name}/_uploads/${spec.id}/startedat`;
    case 'uploadHashStates':
      return `${REPOSITORIES_ROOT}/${spec.name}/_uploads/${spec.id}/hashstates/${spec.algorithm}`;
  }
}

/** The content of a link file: the digest string, exactly as Distribution writes it. */
export function linkContent(d: DigestParts): Buffer {
  return Buffer.from(`${d.algorithm}:${d.encoded}`);
}

/** The last component of a storage path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Under `repositories/`, a directory whose name starts with `_` belongs to the repository that holds
 * it (`_layers`, `_manifests`, `_uploads`): never a component of a repository name.
 */
export function isRepositoryInternal(path: string): boolean {
  return baseName(path).startsWith('_');
}

/**
 * Whether a directory listing of a directory under `repositories/` makes it a repository: it holds
 * `_layers` (as Distribution 2.8.2 decides; an upload session or `_manifests` alone does not).
 */
export function listingMarksRepository(entries: readonly string[]): boolean {
  return entries.some((entry) => baseName(entry) === '_layers');
}

/** The repository name of a directory under `repositories/`, or undefined outside it. */
export function repositoryNameOf(path: string): string | undefined {
  const prefix = `${REPOSITORIES_ROOT}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

/** Whether a directory under `repositories/` is a repository's upload sessions root. */
export function isUploadsRoot(path: string): boolean {
  return baseName(path) === '_uploads';
}

/** The data of the upload session whose directory is `uploadDir` (as listed under its root). */
export function uploadDataOf(uploadDir: string): string {
  return `${uploadDir}/data`;
}

/** The start time of the upload session whose directory is `uploadDir` (as listed under its root). */
export function uploadStartedAtOf(uploadDir: string): string {
  return `${uploadDir}/startedat`;
}

// regate's own bookkeeping lives beside Distribution's tree, under a directory Distribution never
// reads (its catalog walks repositories/, its GC blobs/ and repositories/):
//   /docker/registry/v2/regate/blob-use/<alg>/<hex>        touched by every request that links the content
//   /docker/registry/v2/regate/gc-condemned/<alg>/<hex>    a GC pass is about to delete the content
//   /docker/registry/v2/regate/gc-clock                    rewritten by each GC pass to read the storage's clock
//   /docker/registry/v2/regate/quarantine/<alg>/<hex>/<t>  corrupt bytes scrub --repair moved aside
//   /docker/registry/v2/regate/secrets/<name>              random keys every replica shares (the web page's sessions)
//   /docker/registry/v2/regate/usage                       bytes per repository, from the last GC mark or `regate du`
export const REGATE_ROOT = `${ROOT}/regate`;

export function sharedSecretPath(name: string): string {
  return `${REGATE_ROOT}/secrets/${name}`;
}

export const USAGE_REPORT_PATH = `${REGATE_ROOT}/usage`;

//   /docker/registry/v2/regate/mirror-pulls/<name>/_pulls/<alg>/<hex>  a mirrored manifest's last pull (mirror-pulls.ts)
export function mirrorPullPath(name: string, digest: DigestParts): string {
  return `${REGATE_ROOT}/mirror-pulls/${name}/_pulls/${digestDir(digest)}`;
}

//   /docker/registry/v2/regate/revoked/<list>/<until>-<id> an id no replica accepts until <until> (a logged-out session)
export function revocationsRoot(list: string): string {
  return `${REGATE_ROOT}/revoked/${list}`;
}

export function revocationPath(list: string, entry: string): string {
  return `${revocationsRoot(list)}/${entry}`;
}

export function blobUsePath(digest: DigestParts): string {
  return `${REGATE_ROOT}/blob-use/${digestDir(digest)}`;
}

export function blobCondemnedPath(digest: DigestParts): string {
  return `${REGATE_ROOT}/gc-condemned/${digestDir(digest)}`;
}

export const GC_CLOCK_PATH = `${REGATE_ROOT}/gc-clock`;

/** The digest of a blob's `data` path under blobs/, or undefined for any other path. */
export function blobDigestOfDataPath(path: string): DigestParts | undefined {
  const m = /^\/docker\/registry\/v2\/blobs\/([a-z0-9]+)\/([a-f0-9]{2})\/([a-f0-9]+)\/data$/.exec(path);
  return m && m[3]!.startsWith(m[2]!) ? { algorithm: m[1]!, encoded: m[3]! } : undefined;
}

/** The digest named by the last two components of a `<alg>/<hex>` directory (a revision or layer link dir). */
export function digestOfLinkDir(path: string): DigestParts | undefined {
  const parts = path.split('/');
  const encoded = parts[parts.length - 1];
  const algorithm = parts[parts.length - 2];
  return encoded && algorithm && /^[a-f0-9]+$/.test(encoded) && /^[a-z0-9]+$/.test(algorithm) ? { algorithm, encoded } : undefined;
}

/** Where scrub --repair moves a corrupt blob's bytes: kept for inspection, never served. */
export function quarantinePath(digest: DigestParts, at: Date): string {
  return `${REGATE_ROOT}/quarantine/${digestDir(digest)}/${at.toISOString().replace(/[:.]/g, '-')}`;
}

// The referrers index, regate's own addition, kept in regate's tree beside Distribution's so a
// repository's files stay exactly the ones Distribution writes:
//
//   /docker/registry/v2/regate/referrers/<name>/_referrers/
//     _indexed                                            marker: every revision stored before the index
//                                                         existed has been scanned into it (the backfill)
//     <subject alg>/<subject hex>/<referrer alg>/<referrer hex>
//                                                         the referrer's descriptor (small JSON)
//
// `_referrers` cannot be a component of a repository name (none starts with `_`), so one
// repository's index never overlaps another's (`a` and `a/sha256`); `_indexed` cannot collide with
// a subject directory either: an algorithm never starts with `_`.

export function referrersRootPath(name: string): string {
  return `${REGATE_ROOT}/referrers/${name}/_referrers`;
}

export function referrersIndexedMarkerPath(name: string): string {
  return `${referrersRootPath(name)}/_indexed`;
}

/** The directory holding one entry per referrer of `subject`, grouped by the referrer's algorithm. */
export function referrersSubjectPath(name: string, subject: DigestParts): string {
  return `${referrersRootPath(name)}/${digestDir(subject)}`;
}

export function referrerEntryPath(name: string, subject: DigestParts, referrer: DigestParts): string {
  return `${referrersSubjectPath(name, subject)}/${digestDir(referrer)}`;
}
