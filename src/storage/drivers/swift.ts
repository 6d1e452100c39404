// The Swift driver (its object model and the reasons for it: docs/architecture.md, "The Swift
// driver's object model"): Distribution's container layout (`<prefix>/files/<path>` for content,
// `<prefix>/segments/<3 hex>/<37 hex>/%016d` for large-object segments) over the Swift client.
//
// What an object store changes, and how this driver answers it:
// - Reads never go through a DLO manifest (Swift rate-limits those after 10 segments): a large
//   object is read by its own segment list, from the manifest's metadata (regate writes it) or a
//   listing completed with HEADs (manifests written by Distribution).
// - Nothing depends on a listing being fresh where correctness is at stake: sizes, existence and
//   appends come from HEADs of the objects themselves; listings only enumerate (list, walk, delete
//   of a tree).
// - A move of a large object moves its manifest, never its bytes. Before the destination manifest
//   is written, the source is marked as handed over, so deleting the source (upload cancel, purge,
//   a retried commit) can never delete segments a committed blob reads from.
// - Deleting a manifest that still owns its segments deletes them too (Distribution's rule).
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { objectInfo, SwiftClient, type ObjectInfo } from '../../swift/client.js';
import { readBody, discard } from '../../swift/http.js';
import type { SwiftOptions } from '../../swift/swift-options.js';
import { InvalidOffsetError, PathNotFoundError, WriteConflictError, type FileInfo, type FileWriter, type OpenedFile, type DeleteOptions, type GetOptions, type MoveOptions, type ReadOptions, type StatOptions, type StorageDriver, type UnnamedSweepOptions, type UnnamedSweepResult, type WriterOptions } from '../driver.js';
import { pipeAnswered, pipeObject, pipeSegments } from './swift-reader.js';
import { buildSet, encodeSizes, firstIndex, joinName, newSegmentPrefix, plainEtagOf, plainVersion, resolveSegments, SEGMENTS_META, segmentName, setVersion, type SegmentSet } from './swift-segments.js';
import { SwiftHttpError } from '../../swift/errors.js';
import { SwiftWriter } from './swift-writer.js';
import { SwiftPlainWriter } from './swift-plain-writer.js';
import { SwiftSpillingWriter } from './swift-spilling-writer.js';
import { sweepUnnamedSegments } from './swift-unnamed-segments.js';
import { TempUrlSigner } from '../../swift/temp-url.js';
import { StreamingPut } from '../../swift/streaming-put.js';

/** Metadata on a manifest whose segments now belong to another manifest (see move). */
const HANDED_OVER_META = 'regate-handed-over';
/** Parallel requests when deleting many objects without bulk delete. */
const DELETE_PARALLELISM = 16;
/** Objects per bulk-delete request (Swift's default max_deletes_per_request is 10,000). */
const BULK_DELETE_BATCH = 1000;

type Resolved =
  | { kind: 'plain'; info: ObjectInfo }
  | { kind: 'segmented'; info: ObjectInfo; set: SegmentSet; owned: boolean }
  | { kind: 'slo'; info: ObjectInfo };

export class SwiftDriver implements StorageDriver {
  readonly name = 'swift';
  readonly client: SwiftClient;
  readonly #files: string;
  readonly #root: string;
  #bulkDelete: boolean | undefined;
  #exclusiveCreates: Promise<boolean> | undefined;
  /** Set when `secretkey` is configured: GETs of plain objects may be redirected to a TempURL. */
  readonly #tempUrl: { signer: TempUrlSigner; methods: readonly string[] } | undefined;

  constructor(options: SwiftOptions, client?: SwiftClient) {
    this.client = client ?? new SwiftClient(options);
    if (options.secretKey) {
      const methods = options.tempUrlMethods.length > 0 ? options.tempUrlMethods : ['GET'];
      this.#tempUrl = { signer: new TempUrlSigner(this.client, options.secretKey, options.tempUrlContainerKey, joinName(options.prefix, 'regate-tempurl-probe')), methods };
      this.redirectUrl = (path, method) => this.#redirectUrl(path, method);
    }
    this.#root = options.prefix;
    this.#files = joinName(options.prefix, 'files');
  }

  close(): void {
    this.client.close();
  }

  /** The object name of a driver path (`/` is the files root itself). */
  #object(path: string): string {
    return path === '/' ? this.#files : `${this.#files}${path}`;
  }

  #path(object: string): string {
    return object.slice(this.#files.length) || '/';
  }

  async #ready(): Promise<void> {
    await this.client.ensureContainer();
  }

  /**
   * Whether the backend refuses `If-None-Match: *` PUTs of an object that exists: OpenStack Swift
   * does, Ceph RGW's Swift API ignores the header. Asked once, when a writer first needs it, of a
   * probe object written, then created again as a writer creates (a failed probe counts as no and
   * is asked again next time).
   */
  #refusesCreates(): Promise<boolean> {
    this.#exclusiveCreates ??= this.#probeExclusiveCreates().catch(() => {
      this.#exclusiveCreates = undefined;
      return false;
    });
    return this.#exclusiveCreates;
  }

  async #probeExclusiveCreates(): Promise<boolean> {
    const probe = joinName(this.#root, 'regate-probe-if-none-match');
    const body = Buffer.from('regate');
    await this.client.put(probe, body);
    // Opened as a writer opens it (waiting for 100 Continue): what counts is a refusal before any
    // byte is sent. A proxy in front that answers 100 Continue itself lets the PUT start, which
    // counts as no: the writer then looks first.
    try {
      const put = await StreamingPut.open(this.client, probe, { 'if-none-match': '*' }, body.length);
      put.abort();
      return false;
    } catch (err) {
      if (err instanceof SwiftHttpError && err.status === 412) return true;
      throw err;
    }
  }

  /** HEADs an object (its own headers for a manifest) and works out how to read it. */
  async #resolve(path: string): Promise<Resolved | undefined> {
    await this.#ready();
    const info = await this.client.head(this.#object(path), true);
    return info && this.#classify(info);
  }

  async #classify(info: ObjectInfo): Promise<Resolved> {
    if (info.dloManifest !== undefined) {
      const set = await resolveSegments(this.client, info);
      return { kind: 'segmented', info, set, owned: info.meta[HANDED_OVER_META] === undefined };
    }
    if (info.isSlo) return { kind: 'slo', info };
    return { kind: 'plain', info };
  }

  #size(r: Resolved): number {
    return r.kind === 'segmented' ? r.set.size : r.info.bytes;
  }

  #version(r: Resolved | undefined): string | undefined {
    if (!r) return undefined;
    if (r.kind === 'segmented') {
      const first = firstIndex(r.set);
      const version = setVersion(r.set.prefix, first, r.set.segments.map((s) => s.size));
      // Segments numbered one after another are named by the version (#known reads them by it);
      // a set listed with other names (written by another tool) gets a version that only compares.
      const numbered = r.set.segments.every((s, i) => s.name === segmentName(r.set.prefix, first + i));
      return numbered ? version : `listed:${r.set.segments.map((s) => s.name).join('|')}:${version}`;
    }
    return plainVersion(r.info.etag);
  }

  /** True when something exists below `path` (a pseudo-directory). */
  async #isDir(path: string): Promise<boolean> {
    const page = await this.client.listPage({ prefix: `${this.#object(path)}/`, limit: 1 });
    return page.length > 0;
  }

  /** Offered only with `secretkey` (TempURLs): without it, nothing is ever redirected. */
  readonly redirectUrl?: (path: string, method: 'GET') => Promise<string | undefined>;

  async #redirectUrl(path: string, method: 'GET'): Promise<string | undefined> {
    if (!this.#tempUrl || !this.#tempUrl.methods.includes(method)) return undefined;
    const r = await this.#resolve(path);
    if (!r) throw new PathNotFoundError(this.name, path);
    // A large object would be served through its manifest, which Swift rate-limits: regate reads
    // those segment by segment itself.
    if (r.kind !== 'plain') return undefined;
    return this.#tempUrl.signer.sign(this.#object(path), method);
  }

  async getContent(path: string, options: GetOptions = {}): Promise<Buffer> {
    await this.#ready();
    // One GET in the common case (a plain object); a manifest's own GET tells us to read segments.
    // Swift's object server may answer 404 to a GET racing an overwrite of the object (it finds
    // the older file, which is gone when it opens it; with one replica there is no other to ask):
    // seen once in CI with links rewritten under readers. A miss is asked twice before it is one,
    // unless the caller loses nothing by a false one.
    const res = await this.#getOwn(this.#object(path), options.quickMiss);
    if (!res) throw new PathNotFoundError(this.name, path);
    if (res.headers['x-object-manifest'] === undefined && res.headers['x-static-large-object'] === undefined) {
      if (res.statusCode === 416) {
        await discard(res);
        return Buffer.alloc(0);
      }
      return readBody(res);
    }
    res.destroy();
    const resolved = await this.#resolve(path);
    if (!resolved) throw new PathNotFoundError(this.name, path);
    const parts: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => parts.push(Buffer.from(chunk)));
    await this.#pipeResolved(resolved, sink, 0, this.#size(resolved));
    return Buffer.concat(parts);
  }

  /**
   * One GET (asking for a large object's own manifest): a plain object's answer is its size and
   * its bytes; a manifest's answer is what #classify needs, so its segments are read straight
   * away. A miss is asked twice, as in getContent.
   */
  async open(path: string): Promise<OpenedFile> {
    await this.#ready();
    const object = this.#object(path);
    const res = await this.#getOwn(object, false);
    if (!res) throw new PathNotFoundError(this.name, path);
    const info = objectInfo(object, res.headers);
    if (info.dloManifest === undefined && !info.isSlo) {
      const size = res.statusCode === 416 ? 0 : info.bytes;
      return { size, version: plainVersion(info.etag), pipeTo: (sink) => pipeAnswered(this.client, object, res, size, sink), cancel: () => res.destroy() };
    }
    res.destroy();
    const resolved = await this.#classify(info);
    const size = this.#size(resolved);
    return { size, version: this.#version(resolved), pipeTo: (sink) => this.#pipeResolved(resolved, sink, 0, size), cancel: () => undefined };
  }

  /**
   * GET of an object (a large object's own manifest, not its segments); undefined when missing.
   * A miss is asked twice unless `quickMiss` (see getContent for why).
   */
  async #getOwn(object: string, quickMiss = false): ReturnType<SwiftClient['get']> {
    const get = (): ReturnType<SwiftClient['get']> => this.client.get(object, { manifestGet: true });
    return (await get()) ?? (quickMiss ? undefined : await get());
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    await this.#ready();
    await this.client.put(this.#object(path), content);
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    const { resolved, start, end } = await this.#range(path, options);
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    this.#pipeResolved(resolved, out, start, end).then(
      () => out.end(),
      (err) => out.destroy(err),
    );
    return out;
  }

  async pipeTo(path: string, sink: Writable, options: ReadOptions = {}): Promise<void> {
    const known = this.#known(path, options);
    if (known) {
      await this.#ready();
      try {
        return await known.read(sink);
      } catch (err) {
        // Gone, or other content now: the caller's stat no longer holds.
        if (err instanceof SwiftHttpError && (err.status === 404 || err.status === 412)) throw new PathNotFoundError(this.name, path);
        throw err;
      }
    }
    const { resolved, start, end } = await this.#range(path, options);
    await this.#pipeResolved(resolved, sink, start, end);
  }

  /**
   * The bytes a version names, without asking Swift (ReadOptions.version): a set's segments are
   * named by its prefix, first number and sizes; a plain object is read on condition of its ETag.
   */
  #known(path: string, options: ReadOptions): { read: (sink: Writable) => Promise<void> } | undefined {
    const { version, length } = options;
    if (version === undefined || length === undefined) return undefined;
    const start = options.offset ?? 0;
    const end = start + length;
    const set = /^set:(.+):(\d+):([\d,]*)$/.exec(version);
    if (set) {
      const { segments, size } = buildSet(set[1]!, Number(set[2]), set[3] === '' ? [] : set[3]!.split(',').map(Number));
      if (end > size) return undefined;
      return { read: (sink) => pipeSegments(this.client, segments, start, end, sink) };
    }
    const plain = /^md5:([0-9a-f]+)$/.exec(version);
    if (plain) return { read: (sink) => pipeObject(this.client, this.#object(path), start, end, sink, plain[1]) };
    return undefined;
  }

  async #range(path: string, options: ReadOptions): Promise<{ resolved: Resolved; start: number; end: number }> {
    const resolved = await this.#resolve(path);
    if (!resolved) throw new PathNotFoundError(this.name, path);
    const size = this.#size(resolved);
    const start = options.offset ?? 0;
    if (start > size) throw new InvalidOffsetError(this.name, path, start);
    const end = options.length === undefined ? size : Math.min(size, start + options.length);
    return { resolved, start, end };
  }

  async #pipeResolved(r: Resolved, sink: Writable, start: number, end: number): Promise<void> {
    if (end <= start) return;
    if (r.kind === 'segmented') return pipeSegments(this.client, r.set.segments, start, end, sink);
    // A plain object, or an SLO read through Swift (regate never writes SLOs).
    return pipeObject(this.client, r.info.name, start, end, sink);
  }

  async writer(path: string, append: boolean, options: WriterOptions = {}): Promise<FileWriter> {
    await this.#ready();
    const object = this.#object(path);
    // Unread and believed missing: where creates are refused atomically, the create below (plain
    // object or manifest ahead, both `If-None-Match: *`) is the look, answered before any byte.
    const believedMissing = options.missing || (options.unread === true && (await this.#refusesCreates()));
    const current = believedMissing ? undefined : await this.client.head(object, true);
    const resolved = current && (await this.#classify(current));
    const chunkSize = this.client.options.chunkSize;
    const expected = options.expectedBytes;
    // Bytes that fit in one segment, where nothing is stored yet: one plain object, one PUT.
    if (!current && expected !== undefined && expected > 0 && expected <= chunkSize) {
      return SwiftPlainWriter.open(this.client, this.name, object, path, expected);
    }
    // Bytes of unknown length where nothing is stored yet, from a caller to whom a prefix may show:
    // a plain object too (a chunked PUT) while they fit in one segment; past that, an append to it
    // (its bytes become segment 0, readable from then on).
    if (!current && expected === undefined && options.prefixMayShow) {
      const plain = await SwiftPlainWriter.open(this.client, this.name, object, path, undefined);
      return new SwiftSpillingWriter(plain, chunkSize, () => this.writer(path, true), this.name, path);
    }
    // A set with no segment yet is only a writer's manifest written ahead (one at work, or one that
    // died): nothing to keep, and joining it would race that writer for its first number. Such an
    // append starts a set of its own; whichever writer closes last names the object's bytes.
    if (append && resolved?.kind === 'segmented' && resolved.owned && resolved.set.segments.length > 0) {
      const { set } = resolved;
      return new SwiftWriter(this.client, this.name, {
        object,
        path,
        segmentPrefix: set.prefix,
        first: firstIndex(set),
        existing: set.segments.map((s) => s.size),
        ownSet: false,
        chunkSize,
        expectedBytes: options.expectedBytes,
        baseVersion: this.#version(resolved),
        // The set may have been handed over to a blob meanwhile (a commit in another process): a
        // manifest written over it then would own the blob's segments, and deleting the upload
        // (cancel, purge) would delete them.
        stillOwned: async () => {
          const now = await this.#resolve(path);
          return now?.kind === 'segmented' && now.owned && now.set.prefix === set.prefix;
        },
      });
    }
    const segmentPrefix = newSegmentPrefix(this.#root, path);
    // Appending to a plain object (or to a manifest we may not extend): its bytes become segment 0
    // of a fresh set, by a server-side copy.
    const carried = append && resolved ? this.#size(resolved) : 0;
    if (carried > 0) await this.#copyInto(resolved!, segmentName(segmentPrefix, 0));
    const first = carried > 0 ? 0 : 1;
    const existing = carried > 0 ? [carried] : [];
    // The manifest comes before any segment: a writer that dies midway (kill -9) leaves its
    // segments under a manifest that owns them, so deleting the object (cancel, purge) deletes them,
    // instead of segments no object names, kept forever. A new object is created only if it is
    // still missing: a second writer starting the same object at the same moment gets a conflict.
    try {
      await this.client.put(object, Buffer.alloc(0), {
        'x-object-manifest': `${this.client.container}/${segmentPrefix}`,
        ...encodeSizes(first, existing),
        ...(current ? {} : { 'if-none-match': '*' }),
      });
    } catch (err) {
      if (err instanceof SwiftHttpError && err.status === 412) throw new WriteConflictError(this.name, path);
      throw err;
    }
    // What this replaced is unreferenced now: its segments go at once, not after the writer.
    if (!append && resolved?.kind === 'segmented' && resolved.owned) await this.#deleteSegments(resolved.set);
    // A fresh set is this writer's alone until its manifest lists a segment; one that starts with a
    // carried segment is listed already, so another writer may append to it and must be raced.
    const ownSet = existing.length === 0;
    return new SwiftWriter(this.client, this.name, { object, path, segmentPrefix, first, existing, ownSet, chunkSize, expectedBytes: options.expectedBytes, baseVersion: append ? this.#version(resolved) : undefined });
  }

  /**
   * A server-side copy on condition the source still has `etag`: Swift reads `If-Match` as the
   * source's condition, Ceph RGW reads `Copy-If-Match` (each ignores the other's). False when the
   * source is gone; WriteConflictError when it holds other content now.
   */
  async #copyIfStill(source: string, dest: string, etag: string, sourcePath: string): Promise<boolean> {
    try {
      return await this.client.copy(source, dest, { 'if-match': etag, 'copy-if-match': etag });
    } catch (err) {
      if (err instanceof SwiftHttpError && err.status === 412) throw new WriteConflictError(this.name, sourcePath, `${sourcePath} changed since it was checked`);
      throw err;
    }
  }

  async copyVersion(sourcePath: string, destPath: string, version: string): Promise<boolean> {
    // Only a plain object's version (its ETag) names what one conditional COPY copies; a set's
    // is moved by handing its segments over, never copied.
    const etag = plainEtagOf(version);
    if (etag === undefined) return false;
    await this.#ready();
    // What the destination held is replaced unseen: a segment set stored there by another process
    // is left for GC's unnamed-segment sweep, as for a move told the destination was missing.
    if (!(await this.#copyIfStill(this.#object(sourcePath), this.#object(destPath), etag, sourcePath))) {
      throw new PathNotFoundError(this.name, sourcePath);
    }
    return true;
  }

  /** Server-side copy of a whole object's bytes into a plain object (Swift joins a manifest's segments). */
  async #copyInto(r: Resolved, dest: string): Promise<void> {
    const source = r.kind === 'segmented' && r.set.segments.length === 1 ? r.set.segments[0]!.name : r.info.name;
    if (!(await this.client.copy(source, dest))) throw new PathNotFoundError(this.name, this.#path(r.info.name));
  }

  async stat(path: string, options?: StatOptions): Promise<FileInfo> {
    const resolved = path === '/' ? undefined : await this.#resolve(path);
    if (resolved) return { path, size: this.#size(resolved), modTime: resolved.info.lastModified, isDir: false, version: this.#version(resolved) };
    if (options?.file) throw new PathNotFoundError(this.name, path);
    await this.#ready();
    if (await this.#isDir(path)) return { path, size: 0, modTime: new Date(), isDir: true };
    throw new PathNotFoundError(this.name, path);
  }

  /** Direct children as [path, entry] pairs, sorted by name per level (not by full object name). */
  async #children(path: string): Promise<Array<{ path: string; isDir: boolean; bytes: number; lastModified: Date }>> {
    await this.#ready();
    const prefix = `${this.#object(path)}/`;
    const byName = new Map<string, { path: string; isDir: boolean; bytes: number; lastModified: Date }>();
    for await (const entry of this.client.list({ prefix, delimiter: '/' })) {
      const name = entry.name.slice(prefix.length).replace(/\/$/, '');
      if (name === '') continue;
      const childPath = path === '/' ? `/${name}` : `${path}/${name}`;
      // A name may be both an object and a prefix (file/child written under a file): the
      // directory wins for listing purposes, as the object is still readable by its name.
      const existing = byName.get(name);
      if (existing?.isDir) continue;
      byName.set(name, { path: childPath, isDir: entry.isSubdir, bytes: entry.bytes, lastModified: entry.lastModified });
    }
    return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  async filesBelow(path: string): Promise<Array<{ path: string; modTime: Date }>> {
    await this.#ready();
    const prefix = `${this.#object(path)}/`;
    const files: Array<{ path: string; modTime: Date }> = [];
    for await (const entry of this.client.list({ prefix })) files.push({ path: this.#path(entry.name), modTime: entry.lastModified });
    return files;
  }

  async list(path: string): Promise<string[]> {
    const children = await this.#children(path);
    if (children.length === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
    return children.map((c) => c.path);
  }

  async move(sourcePath: string, destPath: string, options: MoveOptions = {}): Promise<void> {
    // A plain object's version is its ETag, which a COPY can be made conditional on: the copy is of
    // exactly that content or nothing, with no look at the source first (a look would leave a gap
    // before the copy in which another process could append to it or replace it).
    const plainEtag = plainEtagOf(options.version);
    if (plainEtag !== undefined && options.destMissing) {
      await this.#ready();
      if (!(await this.#copyIfStill(this.#object(sourcePath), this.#object(destPath), plainEtag, sourcePath))) throw new PathNotFoundError(this.name, sourcePath);
      await this.client.delete(this.#object(sourcePath));
      return;
    }
    const source = await this.#resolve(sourcePath);
    if (!source) throw new PathNotFoundError(this.name, sourcePath);
    // Another process extended or replaced the source after its content was checked: what moves is
    // exactly what was checked or nothing. (A handover pins the segments resolved here.)
    if (options.version !== undefined && this.#version(source) !== options.version) {
      throw new WriteConflictError(this.name, sourcePath, `${sourcePath} changed since it was checked`);
    }
    const dest = this.#object(destPath);
    // What the destination holds now: once replaced, its segments are named by nothing. (A caller
    // that just found it missing is believed: a set stored there meanwhile by another process is
    // left unnamed, for GC's unnamed-segment sweep.)
    let replaced = options.destMissing ? undefined : await this.#resolve(destPath);
    if (source.kind !== 'segmented') {
      if (plainEtag !== undefined) {
        if (!(await this.#copyIfStill(source.info.name, dest, plainEtag, sourcePath))) throw new PathNotFoundError(this.name, sourcePath);
      } else {
        await this.#copyInto(source, dest);
      }
      await this.client.delete(source.info.name);
      await this.#dropReplaced(replaced);
      return;
    }
    const { set } = source;
    if (!source.owned && source.info.meta[HANDED_OVER_META] === destPath && replaced?.kind === 'segmented' && replaced.set.prefix === set.prefix) {
      // A move cut off after the destination took the segments: only its last step is left.
      await this.client.delete(source.info.name);
      return;
    }
    if (set.segments.length <= 1 || !source.owned) {
      // Small (one segment) or not ours to hand over: the destination gets its own plain copy.
      if (set.segments.length === 0) await this.client.put(dest, Buffer.alloc(0));
      else await this.#copyInto(source, dest);
      await this.#deleteObject(source);
      await this.#dropReplaced(replaced);
      return;
    }
    const manifest = `${this.client.container}/${set.prefix}`;
    const sizes = encodeSizes(firstIndex(set), set.segments.map((s) => s.size)) ?? {};
    // 1. The source gives its segments up; 2. the destination takes them; 3. the source goes.
    await this.client.put(source.info.name, Buffer.alloc(0), { 'x-object-manifest': manifest, ...sizes, [`x-object-meta-${HANDED_OVER_META}`]: destPath });
    try {
      // A destination that was missing is created only if it still is: another process moving
      // into it at the same moment (the same blob pushed twice) is then seen and its segments
      // dropped, instead of both handing theirs over and one set being named by nothing.
      await this.client.put(dest, Buffer.alloc(0), { 'x-object-manifest': manifest, ...sizes, ...(replaced ? {} : { 'if-none-match': '*' }) });
    } catch (err) {
      if (!(err instanceof SwiftHttpError && err.status === 412)) throw err;
      replaced = await this.#resolve(destPath);
      await this.client.put(dest, Buffer.alloc(0), { 'x-object-manifest': manifest, ...sizes });
    }
    await this.client.delete(source.info.name);
    if (!(replaced?.kind === 'segmented' && replaced.set.prefix === set.prefix)) await this.#dropReplaced(replaced);
  }

  async sweepUnnamed(options: UnnamedSweepOptions): Promise<UnnamedSweepResult> {
    await this.#ready();
    // A set without a known segment: #deleteSegments lists its prefix and deletes all it finds.
    return sweepUnnamedSegments(this.client, { root: this.#root, files: this.#files }, (prefix) => this.#deleteSegments(buildSet(prefix, 1, [])), options);
  }

  /** The segments of an object a move replaced, when it owned them. */
  async #dropReplaced(replaced: Resolved | undefined): Promise<void> {
    if (replaced?.kind === 'segmented' && replaced.owned) await this.#deleteSegments(replaced.set, replaced.info.meta[SEGMENTS_META] !== undefined);
  }

  /** Deletes one object, and the segments it owns after the manifest is gone. */
  async #deleteObject(r: Resolved): Promise<boolean> {
    const deleted = await this.client.delete(r.info.name);
    if (r.kind === 'segmented' && r.owned) await this.#deleteSegments(r.set, r.info.meta[SEGMENTS_META] !== undefined);
    return deleted;
  }

  /**
   * A set's segments. Its manifest lists those a writer finished; one that died midway left more
   * under the prefix, found by a listing (a set resolved from a listing has them already).
   */
  async #deleteSegments(set: SegmentSet, strays = true): Promise<void> {
    await this.#deleteMany(set.segments.map((s) => s.name));
    if (!strays) return;
    const known = new Set(set.segments.map((s) => s.name));
    const left: string[] = [];
    for await (const entry of this.client.list({ prefix: `${set.prefix}/` })) if (!entry.isSubdir && !known.has(entry.name)) left.push(entry.name);
    await this.#deleteMany(left);
  }

  async #deleteMany(objects: string[]): Promise<void> {
    if (objects.length === 0) return;
    if (objects.length > 2 && this.#bulkDelete !== false) {
      let ok = true;
      for (let i = 0; i < objects.length && ok; i += BULK_DELETE_BATCH) ok = await this.client.bulkDelete(objects.slice(i, i + BULK_DELETE_BATCH));
      this.#bulkDelete = ok;
      if (ok) return;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < objects.length) await this.client.delete(objects[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_PARALLELISM, objects.length) }, worker));
  }

  async delete(path: string, options?: DeleteOptions): Promise<void> {
    // Written whole by putContent, or a plain object's version (its ETag): never a manifest owning segments.
    if (options?.whole || (options?.file && plainEtagOf(options.version) !== undefined)) {
      await this.#ready();
      if (!(await this.client.delete(this.#object(path)))) throw new PathNotFoundError(this.name, path);
      return;
    }
    const self = options?.directory ? undefined : await this.#resolve(path);
    if (options?.file) {
      if (!self) throw new PathNotFoundError(this.name, path);
      await this.#deleteObject(self);
      return;
    }
    let found = false;
    if (self) found = (await this.#deleteObject(self)) || found;
    // The tree below: manifests first (each with the segments it owns), then everything else.
    const below: string[] = [];
    const manifests: Resolved[] = [];
    for await (const entry of this.client.list({ prefix: `${this.#object(path)}/` })) {
      if (entry.isSubdir) continue;
      if (entry.bytes === 0) {
        const info = await this.client.head(entry.name, true);
        if (info?.dloManifest !== undefined) {
          manifests.push(await this.#classify(info));
          continue;
        }
      }
      below.push(entry.name);
    }
    for (const m of manifests) found = (await this.#deleteObject(m)) || found;
    await this.#deleteMany(below);
    if (!found && below.length === 0 && manifests.length === 0) throw new PathNotFoundError(this.name, path);
  }

  async walk(path: string, visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip'): Promise<void> {
    const children = await this.#children(path);
    if (children.length === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
    await this.#walkChildren(children, visit);
  }

  async #walkChildren(
    children: Array<{ path: string; isDir: boolean; bytes: number; lastModified: Date }>,
    visit: (info: FileInfo) => Promise<void | 'skip'> | void | 'skip',
  ): Promise<void> {
    for (const child of children) {
      if (child.isDir) {
        if ((await visit({ path: child.path, size: 0, modTime: child.lastModified, isDir: true })) === 'skip') continue;
        await this.#walkChildren(await this.#children(child.path), visit);
        continue;
      }
      // A listing shows a manifest as 0 bytes: ask the object for its real size.
      let size = child.bytes;
      let modTime = child.lastModified;
      if (size === 0) {
        const r = await this.#resolve(child.path);
        if (!r) continue; // deleted since the listing
        size = this.#size(r);
        modTime = r.info.lastModified;
      }
      await visit({ path: child.path, size, modTime, isDir: false });
    }
  }
}
