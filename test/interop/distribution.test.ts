// Interop with CNCF Distribution 2.8.2 (/usr/bin/docker-registry) over ONE filesystem root, both
// ways, one server at a time:
//
//   1. skopeo pushes images to Distribution; Distribution stops; regate starts on the same
//      rootdirectory and must serve them byte for byte (skopeo pull + inspect --raw), with the same
//      catalog, tag lists and manifest answers (status, Content-Type, Docker-Content-Digest, body).
//   2. skopeo pushes other images to regate; regate stops; Distribution starts on the same root and
//      must serve those byte for byte (and still the ones from step 1), with the same answers.
//   3. The same images pushed once through each registry leave the same files under
//      docker/registry/v2/repositories/<name>/ (every link file, same path, same content).
//
// All four image kinds go both ways (OCI manifest, OCI index, Docker schema2, Docker manifest
// list). The skopeo transport notes in test/e2e/skopeo.test.ts apply here too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, IMAGE_KINDS, MEDIA_TYPES, type BuiltImage, type ImageKind } from '../support/image-builder.js';
import { pullAndCompare as pullAndCompareImage } from '../support/pull-compare.js';
import {
  DISTRIBUTION_BINARY,
  makeTempDir,
  regateConfigYaml,
  requireExecutable,
  skopeo,
  startDistribution,
  startRegate,
  type RegistryHandle,
} from '../support/processes.js';

const TAGS = ['v1', 'second'];
const ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');

const tmp = makeTempDir('regate-interop-distribution-');
const root = join(tmp.path, 'root');
const running = new Set<RegistryHandle>();
/** Pushed to Distribution, read through regate. */
const viaDistribution = new Map<ImageKind, BuiltImage>();
/** Pushed to regate, read through Distribution. */
const viaRegate = new Map<ImageKind, BuiltImage>();

// A missing program fails every test with an install hint (skopeo() and startDistribution() check
// too); nothing is skipped.
it('prerequisites: skopeo and docker-registry are installed', () => {
  requireExecutable('skopeo');
  requireExecutable(DISTRIBUTION_BINARY);
});

before(() => {
  mkdirSync(root, { recursive: true });
  for (const kind of IMAGE_KINDS) {
    viaDistribution.set(kind, buildImage(kind, { dir: join(tmp.path, 'src', `distribution-${kind}`), seed: `interop/distribution/${kind}`, tag: 'v1' }));
    viaRegate.set(kind, buildImage(kind, { dir: join(tmp.path, 'src', `regate-${kind}`), seed: `interop/regate/${kind}`, tag: 'v1' }));
  }
});

after(async () => {
  try {
    for (const server of running) await server.stop();
  } finally {
    tmp.remove();
  }
});

async function start(which: 'regate' | 'distribution'): Promise<RegistryHandle> {
  const server =
    which === 'regate'
      ? await startRegate({ configYaml: regateConfigYaml({ rootDir: root }) })
      : await startDistribution({ rootDir: root });
  running.add(server);
  return server;
}

async function stop(server: RegistryHandle): Promise<void> {
  running.delete(server);
  await server.stop();
}

function repoName(origin: 'distribution' | 'regate', kind: ImageKind): string {
  return `interop/from-${origin}/${kind}`;
}

async function push(server: RegistryHandle, image: BuiltImage, repo: string): Promise<void> {
  for (const tag of TAGS) {
    await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${server.host}/${repo}:${tag}`]);
  }
}

let pulls = 0;
/** Pulls repo:v1 back with skopeo and checks every manifest and blob byte for byte. */
async function pullAndCompare(server: RegistryHandle, image: BuiltImage, repo: string): Promise<void> {
  mkdirSync(join(tmp.path, 'out'), { recursive: true });
  await pullAndCompareImage(server, image, repo, join(tmp.path, 'out', `pull-${++pulls}`), TAGS);
}

interface ManifestAnswer {
  status: number;
  contentType: string | null;
  digest: string | null;
  contentLength: string | null;
  bodySha256: string;
}

/** What a registry answers about the given repositories: catalog, tag lists, every manifest. */
interface Snapshot {
  catalog: string[];
  tags: Record<string, string[]>;
  manifests: Record<string, ManifestAnswer>;
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  const text = await response.text();
  assert.equal(response.status, 200, `GET ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

async function snapshot(server: RegistryHandle, images: ReadonlyArray<[string, BuiltImage]>): Promise<Snapshot> {
  const catalog = ((await getJson(`${server.url}/v2/_catalog?n=1000`)) as { repositories: string[] }).repositories;
  const tags: Record<string, string[]> = {};
  const manifests: Record<string, ManifestAnswer> = {};
  for (const [repo, image] of images) {
    const list = (await getJson(`${server.url}/v2/${repo}/tags/list`)) as { name: string; tags: string[] };
    assert.equal(list.name, repo);
    tags[repo] = [...list.tags].sort();
    const references = [...TAGS, ...image.manifests.map((m) => m.digest)];
    for (const reference of references) {
      const response = await fetch(`${server.url}/v2/${repo}/manifests/${reference}`, { headers: { Accept: ACCEPT } });
      const body = Buffer.from(await response.arrayBuffer());
      manifests[`${repo}:${reference}`] = {
        status: response.status,
        contentType: response.headers.get('content-type'),
        digest: response.headers.get('docker-content-digest'),
        contentLength: response.headers.get('content-length'),
        bodySha256: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      };
    }
  }
  return { catalog: [...catalog].sort(), tags, manifests };
}

/** The answers both registries must give for the images pushed so far. */
function expectedManifests(images: ReadonlyArray<[string, BuiltImage]>): Record<string, ManifestAnswer> {
  const out: Record<string, ManifestAnswer> = {};
  for (const [repo, image] of images) {
    for (const tag of TAGS) out[`${repo}:${tag}`] = answerFor(image.top.mediaType, image.top.digest, image.top.size);
    for (const m of image.manifests) out[`${repo}:${m.digest}`] = answerFor(m.mediaType, m.digest, m.size);
  }
  return out;
}

function answerFor(mediaType: string, digest: string, size: number): ManifestAnswer {
  return { status: 200, contentType: mediaType, digest, contentLength: String(size), bodySha256: digest };
}

/**
 * Every file under a repository's directory, relative path → content (link files and other small
 * files) or size. Upload sessions (`_uploads/`) are left out: their leftovers are implementation
 * detail, and both registries remove them on commit.
 */
function repositoryTree(repo: string): Record<string, string> {
  const base = join(root, 'docker', 'registry', 'v2', 'repositories', ...repo.split('/'));
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (relPath === '_uploads') continue;
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path, relPath);
      else out[relPath] = stat.size <= 1024 ? readFileSync(path, 'utf8') : `<${stat.size} bytes>`;
    }
  };
  walk(base, '');
  return out;
}

describe('Distribution 2.8.2 and regate on one filesystem root', () => {
  /** [repository, image] for every kind pushed to the given registry. */
  const pushedTo = (origin: 'distribution' | 'regate'): Array<[string, BuiltImage]> =>
    IMAGE_KINDS.map((kind) => [repoName(origin, kind), (origin === 'distribution' ? viaDistribution : viaRegate).get(kind)!]);

  it('regate serves what Distribution wrote, byte for byte', async () => {
    const images = pushedTo('distribution');
    const distribution = await start('distribution');
    for (const [repo, image] of images) await push(distribution, image, repo);
    const written = await snapshot(distribution, images);
    assert.deepEqual(written.manifests, expectedManifests(images), 'Distribution itself does not answer as expected');
    await stop(distribution);

    const regate = await start('regate');
    for (const [repo, image] of images) await pullAndCompare(regate, image, repo);
    const served = await snapshot(regate, images);
    assert.deepEqual(served.catalog, written.catalog, 'catalog differs from what Distribution listed');
    assert.deepEqual(served.tags, written.tags, 'tag lists differ from what Distribution listed');
    assert.deepEqual(served.manifests, written.manifests, 'manifest answers differ from what Distribution gave');
    await stop(regate);
  });

  it('Distribution serves what regate wrote, byte for byte', async () => {
    const images = pushedTo('regate');
    const regate = await start('regate');
    for (const [repo, image] of images) await push(regate, image, repo);
    const all = [...pushedTo('distribution'), ...images];
    const written = await snapshot(regate, all);
    assert.deepEqual(written.manifests, expectedManifests(all), 'regate itself does not answer as expected');
    await stop(regate);

    const distribution = await start('distribution');
    for (const [repo, image] of images) await pullAndCompare(distribution, image, repo);
    const served = await snapshot(distribution, all);
    assert.deepEqual(served.catalog, written.catalog, 'catalog differs from what regate listed');
    assert.deepEqual(served.tags, written.tags, 'tag lists differ from what regate listed');
    assert.deepEqual(served.manifests, written.manifests, 'manifest answers differ from what regate gave');
    await stop(distribution);
  });

  it('the same images pushed through either registry leave the same files in the repository', async () => {
    const images = IMAGE_KINDS.map((kind) => viaDistribution.get(kind)!);
    const distribution = await start('distribution');
    for (const image of images) await push(distribution, image, `interop/layout-by-distribution/${image.kind}`);
    await stop(distribution);
    const regate = await start('regate');
    for (const image of images) await push(regate, image, `interop/layout-by-regate/${image.kind}`);
    await stop(regate);
    for (const image of images) {
      const byDistribution = repositoryTree(`interop/layout-by-distribution/${image.kind}`);
      const byRegate = repositoryTree(`interop/layout-by-regate/${image.kind}`);
      assert.ok(Object.keys(byDistribution).length > 0, `Distribution wrote nothing for ${image.kind}?`);
      assert.deepEqual(byRegate, byDistribution, `${image.kind}: regate's repository files differ from Distribution's`);
    }
  });
});
