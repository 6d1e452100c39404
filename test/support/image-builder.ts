// Builds container images for tests: offline, deterministic from a seed, no network.
//
// Layers are hand-written ustar tars (files of seeded pseudo-random content) gzip'd with node:zlib,
// image configs carry rootfs.diff_ids (sha256 of the uncompressed tars) and history, and the result
// is written as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) that skopeo
// reads as `oci:DIR:TAG`. Four kinds:
//
//   oci-manifest        an OCI image manifest (3 layers, one of them ~2 MiB)
//   oci-index           an OCI image index over linux/amd64 + linux/arm64 OCI manifests
//   docker-schema2      a Docker schema2 manifest (application/vnd.docker.distribution.manifest.v2+json)
//   docker-list         a Docker manifest list over linux/amd64 + linux/arm64/v8 schema2 manifests
//
// Every built image reports the digest, media type and bytes of every manifest and blob, so tests
// can compare what comes back from a registry byte for byte (see `readLayoutBlobs`).
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const IMAGE_KINDS = ['oci-manifest', 'oci-index', 'docker-schema2', 'docker-list'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

// ---------------------------------------------------------------------------------------------
// Deterministic bytes

/** `size` pseudo-random bytes determined by `seed` (AES-256-CTR keystream keyed by sha256(seed)). */
export function seededBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`regate-test-bytes:${seed}`).digest();
  const iv = Buffer.alloc(16);
  return createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(size));
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// A minimal ustar writer

export interface TarEntry {
  /** Path inside the archive (no leading slash); up to 100 bytes, or 255 with a '/' split. */
  name: string;
  /** File content; omit for a directory. */
  content?: Buffer;
  /** Permission bits; 0o644 for files, 0o755 for directories by default. */
  mode?: number;
}

/** Fixed mtime so archives are reproducible: 2020-01-01T00:00:00Z. */
const TAR_MTIME = 1_577_836_800;

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long (${bytes.length} > ${length}): ${value}`);
  bytes.copy(block, offset);
}

/** An octal number, zero-padded to length-1 digits and NUL-terminated, as ustar wants. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar number too large for ${length}-byte field: ${value}`);
  writeString(block, offset, length, `${digits.padStart(length - 1, '0')}\0`);
}

function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new Error(`tar entry name too long for ustar: ${name}`);
}

function tarHeader(entry: TarEntry): Buffer {
  const block = Buffer.alloc(512);
  const isDir = entry.content === undefined;
  const { prefix, base } = splitName(isDir && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name);
  writeString(block, 0, 100, base);
  writeOctal(block, 100, 8, entry.mode ?? (isDir ? 0o755 : 0o644));
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, isDir ? 0 : entry.content!.length);
  writeOctal(block, 136, 12, TAR_MTIME);
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(block, 156, 1, isDir ? '5' : '0');
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 265, 32, 'root');
  writeString(block, 297, 32, 'root');
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** A complete ustar archive: each entry's header and 512-byte-padded data, then two zero blocks. */
export function buildTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry));
    if (entry.content !== undefined && entry.content.length > 0) {
      parts.push(entry.content);
      const pad = (512 - (entry.content.length % 512)) % 512;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Layers, configs, manifests

export interface LayerFileSpec {
  /** Path inside the layer, e.g. `opt/app/data.bin`; parent directories are added automatically. */
  name: string;
  /** Size in bytes of the seeded random content. */
  size: number;
}

export interface LayerSpec {
  files: LayerFileSpec[];
}

export interface BuiltLayer {
  /** The gzip'd tar as stored in the registry. */
  bytes: Buffer;
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Human-readable description used in the config's history. */
  createdBy: string;
}

export function buildLayer(seed: string, spec: LayerSpec): BuiltLayer {
  const entries: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const file of spec.files) {
    const parts = file.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        entries.push({ name: dir });
      }
    }
    entries.push({ name: file.name, content: seededBytes(`${seed}/${file.name}`, file.size) });
  }
  const tar = buildTar(entries);
  const bytes = gzipSync(tar, { level: 6 });
  return {
    bytes,
    digest: sha256(bytes),
    size: bytes.length,
    diffId: sha256(tar),
    createdBy: `regate-test: add ${spec.files.map((f) => `${f.name} (${f.size} B)`).join(', ')}`,
  };
}

/** One blob or manifest in an image, with its bytes. */
export interface BuiltBlob {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** A single-platform image: its manifest, config and layers. */
export interface BuiltManifest {
  manifest: BuiltBlob;
  config: BuiltBlob;
  layers: BuiltBlob[];
  platform: Platform;
}

export type Flavour = 'oci' | 'docker';

const CREATED = '2020-01-01T00:00:00Z';

function jsonBlob(value: unknown, mediaType: string): BuiltBlob {
  const bytes = Buffer.from(JSON.stringify(value, null, 2), 'utf8');
  return { digest: sha256(bytes), size: bytes.length, mediaType, bytes };
}

/** Builds one single-platform image (manifest + config + layers) in the OCI or Docker flavour. */
export function buildSingleManifest(options: {
  seed: string;
  flavour: Flavour;
  platform: Platform;
  layers: LayerSpec[];
  /** Layers built elsewhere to put first (e.g. a base layer shared by the platforms of an index). */
  sharedLayers?: BuiltLayer[];
}): BuiltManifest {
  const { seed, flavour, platform } = options;
  const built = [
    ...(options.sharedLayers ?? []),
    ...options.layers.map((spec, i) => buildLayer(`${seed}/layer-${i}`, spec)),
  ];
  const layerType = flavour === 'oci' ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.dockerLayerGzip;
  const configType = flavour === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig;
  const configDoc = {
    created: CREATED,
    architecture: platform.architecture,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    os: platform.os,
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `REGATE_TEST_SEED=${seed}`],
      Cmd: ['/bin/sh'],
      Labels: { 'org.regate.test.seed': seed },
    },
    rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
    history: built.map((l) => ({ created: CREATED, created_by: l.createdBy })),
  };
  const config = jsonBlob(configDoc, configType);
  const layers: BuiltBlob[] = built.map((l) => ({ digest: l.digest, size: l.size, mediaType: layerType, bytes: l.bytes }));
  const manifestType = flavour === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: configType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(flavour === 'oci' ? { annotations: { 'org.regate.test.seed': seed } } : {}),
  };
  return { manifest: jsonBlob(manifestDoc, manifestType), config, layers, platform };
}

/** Builds an OCI image index or a Docker manifest list over the given images. */
export function buildIndex(flavour: Flavour, images: readonly BuiltManifest[], seed: string): BuiltBlob {
  const mediaType = flavour === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerList;
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((image) => ({
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: image.manifest.size,
      platform: image.platform,
    })),
    ...(flavour === 'oci' ? { annotations: { 'org.regate.test.seed': seed } } : {}),
  };
  return jsonBlob(doc, mediaType);
}

// ---------------------------------------------------------------------------------------------
// Whole images and their OCI layout

export interface BuiltImage {
  kind: ImageKind;
  seed: string;
  /** The OCI layout directory holding the image. */
  layoutDir: string;
  tag: string;
  /** `oci:<layoutDir>:<tag>`, ready for skopeo. */
  ociRef: string;
  /** The same image as a containers/image `dir:` directory (`manifest.json`, blobs by hex digest). */
  dirPath: string;
  /** `dir:<dirPath>`, ready for skopeo. */
  dirRef: string;
  /**
   * The reference skopeo 1.9 can push this image from without changing a byte: `ociRef` for the
   * OCI kinds, `dirRef` for the Docker kinds (containers/image's `oci:` source only accepts OCI
   * media types in index.json: a Docker manifest there is "no descriptor found for reference").
   */
  pushRef: string;
  /** The top-level manifest (image manifest, OCI index or Docker list) as pushed. */
  top: BuiltBlob;
  /** Every single-platform image (one for a plain manifest, two for an index/list). */
  images: BuiltManifest[];
  /** Every manifest (top-level first, then the platform manifests of an index/list). */
  manifests: BuiltBlob[];
  /** Every blob the image consists of, manifests included, keyed by digest. */
  blobs: Map<string, BuiltBlob>;
}

export interface BuildOptions {
  /** Where to write the OCI layout (created if missing; an existing layout gets one more tag). */
  dir: string;
  /** Everything (content, digests) follows from the seed: same seed, same bytes. */
  seed: string;
  /** Tag (index.json ref name); `latest` by default. */
  tag?: string;
  /** Layers of a single-manifest image; defaults to three layers of a few KiB up to ~2 MiB. */
  layers?: LayerSpec[];
  /** Where to write the `dir:` transport copy; `<dir>.dir-<tag>` by default. */
  dirTransportPath?: string;
}

/** The default multi-layer set: 3 layers, a few KiB to ~2 MiB. */
export const DEFAULT_LAYERS: readonly LayerSpec[] = [
  { files: [{ name: 'etc/regate-test/motd', size: 3 * 1024 }, { name: 'etc/regate-test/empty', size: 0 }] },
  { files: [{ name: 'usr/lib/regate/a.bin', size: 64 * 1024 }, { name: 'usr/lib/regate/b.bin', size: 200 * 1024 + 7 }] },
  { files: [{ name: 'opt/regate/big.bin', size: 2 * 1024 * 1024 + 123 }] },
];

function layoutDescriptor(blob: BuiltBlob, tag: string): Record<string, unknown> {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, annotations: { [REF_NAME_ANNOTATION]: tag } };
}

/** Writes blobs into `<dir>/blobs/sha256/` and adds/replaces the tag in `<dir>/index.json`. */
export function writeOciLayout(dir: string, top: BuiltBlob, blobs: Iterable<BuiltBlob>, tag: string): void {
  const blobDir = join(dir, 'blobs', 'sha256');
  mkdirSync(blobDir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of blobs) {
    const path = join(blobDir, blob.digest.slice('sha256:'.length));
    if (!existsSync(path)) writeFileSync(path, blob.bytes);
  }
  const indexPath = join(dir, 'index.json');
  const index = existsSync(indexPath)
    ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> })
    : { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
  index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] !== tag);
  index.manifests.push(layoutDescriptor(top, tag));
  writeFileSync(indexPath, JSON.stringify(index));
}

function collect(kind: ImageKind, options: BuildOptions, top: BuiltBlob, images: BuiltManifest[]): BuiltImage {
  const tag = options.tag ?? 'latest';
  const blobs = new Map<string, BuiltBlob>();
  const manifests = [top];
  blobs.set(top.digest, top);
  for (const image of images) {
    if (image.manifest.digest !== top.digest) manifests.push(image.manifest);
    for (const blob of [image.manifest, image.config, ...image.layers]) blobs.set(blob.digest, blob);
  }
  writeOciLayout(options.dir, top, blobs.values(), tag);
  const dirPath = options.dirTransportPath ?? `${options.dir}.dir-${tag}`;
  writeDirTransport(dirPath, top, manifests.slice(1), blobs.values());
  const ociRef = `oci:${options.dir}:${tag}`;
  const dirRef = `dir:${dirPath}`;
  const pushRef = kind === 'oci-manifest' || kind === 'oci-index' ? ociRef : dirRef;
  return { kind, seed: options.seed, layoutDir: options.dir, tag, ociRef, dirPath, dirRef, pushRef, top, images, manifests, blobs };
}

function buildSingle(kind: ImageKind, flavour: Flavour, options: BuildOptions): BuiltImage {
  const image = buildSingleManifest({
    seed: options.seed,
    flavour,
    platform: { architecture: 'amd64', os: 'linux' },
    layers: options.layers ?? [...DEFAULT_LAYERS],
  });
  return collect(kind, options, image.manifest, [image]);
}

function buildMulti(kind: ImageKind, flavour: Flavour, options: BuildOptions): BuiltImage {
  // Both platforms share a base layer (as real multi-arch images often do) and each has its own.
  const base = buildLayer(`${options.seed}/shared-base`, { files: [{ name: 'etc/regate-test/base', size: 16 * 1024 }] });
  const platforms: Platform[] = [
    { architecture: 'amd64', os: 'linux' },
    flavour === 'oci' ? { architecture: 'arm64', os: 'linux' } : { architecture: 'arm64', os: 'linux', variant: 'v8' },
  ];
  const images = platforms.map((platform) =>
    buildSingleManifest({
      seed: `${options.seed}/${platform.architecture}`,
      flavour,
      platform,
      sharedLayers: [base],
      layers: options.layers ?? [
        { files: [{ name: `opt/regate/${platform.architecture}.bin`, size: 96 * 1024 + 1 }] },
        { files: [{ name: `usr/bin/tool-${platform.architecture}`, size: 300 * 1024 }] },
      ],
    }),
  );
  return collect(kind, options, buildIndex(flavour, images, options.seed), images);
}

/** (a) An OCI image manifest with three layers, in an OCI layout. */
export function buildOciImage(options: BuildOptions): BuiltImage {
  return buildSingle('oci-manifest', 'oci', options);
}

/** (b) An OCI image index (linux/amd64 + linux/arm64 OCI manifests), in an OCI layout. */
export function buildOciIndex(options: BuildOptions): BuiltImage {
  return buildMulti('oci-index', 'oci', options);
}

/** (c) A Docker schema2 image (docker media types throughout), in an OCI layout. */
export function buildDockerImage(options: BuildOptions): BuiltImage {
  return buildSingle('docker-schema2', 'docker', options);
}

/** (d) A Docker manifest list (linux/amd64 + linux/arm64/v8 schema2 manifests), in an OCI layout. */
export function buildDockerManifestList(options: BuildOptions): BuiltImage {
  return buildMulti('docker-list', 'docker', options);
}

export function buildImage(kind: ImageKind, options: BuildOptions): BuiltImage {
  switch (kind) {
    case 'oci-manifest':
      return buildOciImage(options);
    case 'oci-index':
      return buildOciIndex(options);
    case 'docker-schema2':
      return buildDockerImage(options);
    case 'docker-list':
      return buildDockerManifestList(options);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading layouts back (what skopeo wrote) for byte-for-byte comparison

export interface LayoutIndexEntry {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export function readLayoutIndex(dir: string): { manifests: LayoutIndexEntry[] } {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: LayoutIndexEntry[] };
}

/** The descriptor an OCI layout's index.json holds for `tag`, or undefined. */
export function layoutDescriptorFor(dir: string, tag: string): LayoutIndexEntry | undefined {
  return readLayoutIndex(dir).manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === tag);
}

/** Every blob under `<dir>/blobs/sha256/`, keyed by digest. */
export function readLayoutBlobs(dir: string): Map<string, Buffer> {
  const blobDir = join(dir, 'blobs', 'sha256');
  const out = new Map<string, Buffer>();
  if (!existsSync(blobDir)) return out;
  for (const name of readdirSync(blobDir).sort()) out.set(`sha256:${name}`, readFileSync(join(blobDir, name)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The `dir:` transport layout (containers/image): manifest.json + blobs named by hex digest

const DIR_TRANSPORT_VERSION = 'Directory Transport Version: 1.1\n';

/**
 * Writes a containers/image `dir:` directory: `version`, `manifest.json` (the top-level manifest),
 * `<hex>.manifest.json` for each instance of an index/list, and every other blob as `<hex>`.
 */
export function writeDirTransport(dir: string, top: BuiltBlob, instances: readonly BuiltBlob[], blobs: Iterable<BuiltBlob>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'version'), DIR_TRANSPORT_VERSION);
  writeFileSync(join(dir, 'manifest.json'), top.bytes);
  const instanceDigests = new Set(instances.map((m) => m.digest));
  for (const instance of instances) writeFileSync(join(dir, `${hex(instance.digest)}.manifest.json`), instance.bytes);
  for (const blob of blobs) {
    if (blob.digest === top.digest || instanceDigests.has(blob.digest)) continue;
    writeFileSync(join(dir, hex(blob.digest)), blob.bytes);
  }
}

function hex(digest: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

/** Every file of a skopeo `dir:` directory: blobs keyed by digest, manifests of list instances too. */
export function readDirTransport(dir: string): { manifest: Buffer; instanceManifests: Map<string, Buffer>; blobs: Map<string, Buffer> } {
  const manifest = readFileSync(join(dir, 'manifest.json'));
  const instanceManifests = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    const instance = /^([0-9a-f]{64})\.manifest\.json$/.exec(name);
    if (instance) instanceManifests.set(`sha256:${instance[1]}`, readFileSync(join(dir, name)));
    else if (/^[0-9a-f]{64}$/.test(name)) blobs.set(`sha256:${name}`, readFileSync(join(dir, name)));
  }
  return { manifest, instanceManifests, blobs };
}

// ---------------------------------------------------------------------------------------------
// What a pull wrote, whatever the transport, and how it compares with what was built

export interface PulledImage {
  /** `oci:DIR:TAG` or `dir:DIR`, as given to skopeo. */
  ref: string;
  /** Digest of the top-level manifest as the pull recorded it. */
  topDigest: string;
  /** The media type index.json records for it (oci: only). */
  topMediaType?: string;
  /** Every manifest and blob written, keyed by digest (for `dir:`, manifests keyed by their sha256). */
  blobs: Map<string, Buffer>;
}

/** Reads back what `skopeo copy … oci:DIR:TAG` or `skopeo copy … dir:DIR` wrote. */
export function readPulledImage(ref: string): PulledImage {
  if (ref.startsWith('dir:')) {
    const dir = ref.slice('dir:'.length);
    const { manifest, instanceManifests, blobs } = readDirTransport(dir);
    const all = new Map(blobs);
    const topDigest = sha256(manifest);
    all.set(topDigest, manifest);
    for (const [digest, bytes] of instanceManifests) all.set(digest, bytes);
    return { ref, topDigest, blobs: all };
  }
  const m = /^oci:(.*):([^:]+)$/.exec(ref);
  if (!m) throw new Error(`not an oci:DIR:TAG or dir:DIR reference: ${ref}`);
  const [, dir, tag] = m as unknown as [string, string, string];
  const descriptor = layoutDescriptorFor(dir, tag);
  if (!descriptor) throw new Error(`${dir}/index.json has no descriptor for tag ${tag}: ${JSON.stringify(readLayoutIndex(dir))}`);
  return { ref, topDigest: descriptor.digest, topMediaType: descriptor.mediaType, blobs: readLayoutBlobs(dir) };
}

/**
 * Every way `pulled` differs from `image` (empty when identical): the top-level digest and media
 * type, the set of blobs, each blob's bytes, and that each blob hashes to its name.
 */
export function diffPulledImage(image: BuiltImage, pulled: PulledImage): string[] {
  const problems: string[] = [];
  if (pulled.topDigest !== image.top.digest) problems.push(`top-level digest ${pulled.topDigest}, expected ${image.top.digest}`);
  if (pulled.topMediaType !== undefined && pulled.topMediaType !== image.top.mediaType)
    problems.push(`top-level media type ${pulled.topMediaType}, expected ${image.top.mediaType}`);
  for (const [digest, expected] of image.blobs) {
    const got = pulled.blobs.get(digest);
    if (!got) problems.push(`missing ${expected.mediaType} ${digest} (${expected.size} bytes)`);
    else if (!got.equals(expected.bytes)) problems.push(`bytes differ for ${digest}: got ${got.length} bytes (sha256 ${sha256(got)}), expected ${expected.size}`);
  }
  for (const [digest, bytes] of pulled.blobs) {
    if (!image.blobs.has(digest)) problems.push(`unexpected extra blob ${digest} (${bytes.length} bytes): ${bytes.subarray(0, 200).toString('utf8')}`);
    else if (sha256(bytes) !== digest) problems.push(`blob ${digest} does not hash to its name`);
  }
  return problems;
}
