// End to end with a real client: skopeo 1.9 pushes the four image kinds (OCI manifest, OCI index,
// Docker schema2, Docker manifest list) into a regate process, reads them back, and everything must
// come back byte for byte: manifests, index/list, configs and layers. Run over the filesystem and
// inmemory drivers, and over the Swift driver against a real OpenStack Swift and a real Ceph RGW. Also checks `skopeo inspect --raw`, `skopeo list-tags`
// and a copy between two repositories of one registry (cross-repository blob mount).
//
// skopeo notes (containers/image 5.23, as shipped with skopeo 1.9):
// - `--preserve-digests` on every copy: skopeo then fails instead of silently converting a manifest.
// - The Docker kinds are pushed from a `dir:` directory: the `oci:` source ignores index.json
//   entries whose media type is not OCI ("no descriptor found for reference").
// - A Docker manifest list is pulled back into `dir:`: the `oci:` destination only writes OCI
//   indexes ("Manifest list must be converted to type application/vnd.oci.image.index.v1+json").
//   A Docker schema2 image is pulled into `oci:` fine (byte for byte, docker media type kept).
// - skopeo only tries a cross-repository mount for blobs its blob-info cache knows to be in another
//   repository of the same registry (as root: /var/lib/containers/cache/blob-info-cache-v1.boltdb,
//   filled by the push just before). The mount test also mounts through the API directly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildImage,
  buildOciImage,
  diffPulledImage,
  IMAGE_KINDS,
  readPulledImage,
  type BuiltImage,
  type ImageKind,
} from '../support/image-builder.js';
import { makeTempDir, regateConfigYaml, requireExecutable, skopeo, startRegate, type RegistryHandle } from '../support/processes.js';
import { startSwiftAio } from '../support/swift-aio.js';
import { startCephRgw } from '../support/ceph-rgw.js';

/** Where each kind is pulled back to (see the header). */
const PULL_TRANSPORT: Record<ImageKind, 'oci' | 'dir'> = {
  'oci-manifest': 'oci',
  'oci-index': 'oci',
  'docker-schema2': 'oci',
  'docker-list': 'dir',
};

const TAGS = ['v1', 'second'];

const tmp = makeTempDir('regate-e2e-skopeo-');
const images = new Map<ImageKind, BuiltImage>();

// A missing skopeo fails every test with an install hint (skopeo() checks too); nothing is skipped.
it('prerequisite: skopeo is installed', () => {
  requireExecutable('skopeo');
});

before(() => {
  for (const kind of IMAGE_KINDS) {
    images.set(kind, buildImage(kind, { dir: join(tmp.path, 'src', kind), seed: `e2e-skopeo/${kind}`, tag: 'v1' }));
  }
});

after(() => tmp.remove());

/** A fresh output path under the temp dir (skopeo wants the parent to exist). */
function outPath(...parts: string[]): string {
  mkdirSync(join(tmp.path, 'out'), { recursive: true });
  return join(tmp.path, 'out', parts.join('-'));
}

function pullRef(kind: ImageKind, outDir: string, tag: string): string {
  return PULL_TRANSPORT[kind] === 'oci' ? `oci:${outDir}:${tag}` : `dir:${outDir}`;
}

async function inspectRaw(ref: string): Promise<Buffer> {
  return (await skopeo(['inspect', '--raw', '--tls-verify=false', ref])).stdout;
}

async function listTags(ref: string): Promise<{ Repository: string; Tags: string[] }> {
  return JSON.parse((await skopeo(['list-tags', '--tls-verify=false', ref])).stdout.toString('utf8')) as {
    Repository: string;
    Tags: string[];
  };
}

/** Each storage backend: how to start it and the storage section that points regate at it. */
const STORAGES: Array<{ name: string; start(): Promise<{ storage: Parameters<typeof regateConfigYaml>[0]; stop(): Promise<void> }> }> = [
  { name: 'filesystem', start: async () => ({ storage: { rootDir: join(tmp.path, 'filesystem-root') }, stop: async () => undefined }) },
  { name: 'inmemory', start: async () => ({ storage: 'inmemory', stop: async () => undefined }) },
  {
    name: 'swift',
    async start() {
      const swift = await startSwiftAio();
      // 1 MiB segments: the layers span several, so pushes and pulls go through large objects.
      return { storage: { swift: { authurl: swift.authUrl, username: swift.username, password: swift.password, container: 'registry', chunksize: 1048576 } }, stop: swift.stop };
    },
  },
  {
    name: 'ceph-rgw',
    async start() {
      const rgw = await startCephRgw();
      return { storage: { swift: { authurl: rgw.authUrl, username: rgw.username, password: rgw.password, container: 'registry', chunksize: 1048576 } }, stop: rgw.stop };
    },
  },
];

for (const { name: storage, start } of STORAGES) {
  describe(`skopeo against regate (${storage} storage)`, () => {
    let regate: RegistryHandle;
    let backend: { stop(): Promise<void> } | undefined;

    before(async () => {
      const started = await start();
      backend = started;
      regate = await startRegate({ configYaml: regateConfigYaml(started.storage) });
    });

    after(async () => {
      await regate?.stop();
      await backend?.stop();
    });

    for (const kind of IMAGE_KINDS) {
      it(`${kind}: push, inspect --raw, list-tags, pull back byte-identical`, async () => {
        const image = images.get(kind)!;
        const repo = `${regate.host}/e2e/${storage}/${kind}`;

        for (const tag of TAGS) {
          await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${repo}:${tag}`]);
        }

        // The registry hands back exactly the bytes that were pushed, by tag and by digest.
        for (const tag of TAGS) {
          const raw = await inspectRaw(`docker://${repo}:${tag}`);
          assert.equal(raw.toString('utf8'), image.top.bytes.toString('utf8'), `inspect --raw ${repo}:${tag}`);
        }
        for (const manifest of image.manifests) {
          const raw = await inspectRaw(`docker://${repo}@${manifest.digest}`);
          assert.ok(raw.equals(manifest.bytes), `inspect --raw ${repo}@${manifest.digest} differs from the pushed ${manifest.mediaType}`);
        }

        // `skopeo inspect` resolves each platform (through the index/list when there is one) and
        // reads its config blob.
        for (const platform of image.images) {
          const overrides = ['--override-os', platform.platform.os, '--override-arch', platform.platform.architecture];
          if (platform.platform.variant) overrides.push('--override-variant', platform.platform.variant);
          const info = JSON.parse((await skopeo([...overrides, 'inspect', '--tls-verify=false', `docker://${repo}:v1`])).stdout.toString('utf8')) as {
            Digest: string;
            Architecture: string;
            Os: string;
            Layers: string[];
            Labels: Record<string, string>;
          };
          assert.equal(info.Digest, image.top.digest);
          assert.equal(info.Architecture, platform.platform.architecture);
          assert.equal(info.Os, platform.platform.os);
          assert.deepEqual(info.Layers, platform.layers.map((l) => l.digest));
          assert.equal(info.Labels['org.regate.test.seed'], JSON.parse(platform.config.bytes.toString('utf8')).config.Labels['org.regate.test.seed']);
        }

        const tags = await listTags(`docker://${repo}`);
        assert.deepEqual([...tags.Tags].sort(), [...TAGS].sort());

        const out = outPath(storage, kind);
        const ref = pullRef(kind, out, 'v1');
        await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${repo}:v1`, ref]);
        assert.deepEqual(diffPulledImage(image, readPulledImage(ref)), [], `pulled ${ref} differs from what was pushed`);
      });
    }

    it('copy to another repository of the same registry mounts the blobs, and the copy is identical', async () => {
      const image = buildOciImage({ dir: join(tmp.path, 'src', `mount-${storage}`), seed: `e2e-skopeo/mount/${storage}`, tag: 'v1' });
      const from = `e2e/${storage}/mount-source`;
      const to = `e2e/${storage}/mount-target`;
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', image.pushRef, `docker://${regate.host}/${from}:v1`]);
      await skopeo([
        'copy',
        '--all',
        '--preserve-digests',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${regate.host}/${from}:v1`,
        `docker://${regate.host}/${to}:v1`,
      ]);

      const raw = await inspectRaw(`docker://${regate.host}/${to}:v1`);
      assert.ok(raw.equals(image.top.bytes), 'the copied manifest differs');
      const out = outPath(storage, 'mount');
      await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${regate.host}/${to}:v1`, `oci:${out}:v1`]);
      assert.deepEqual(diffPulledImage(image, readPulledImage(`oci:${out}:v1`)), []);

      // skopeo asked for a cross-repository mount of every layer and regate did it (201 Created):
      // no layer was uploaded again. The access log shows it. (skopeo always re-uploads the small
      // config blob, so that one is not expected to be mounted.)
      const single = image.images[0]!;
      const mounted = new Set<string>();
      const fromParam = encodeURIComponent(from);
      for (const line of regate.output().split('\n')) {
        if (!line.includes('"method":"POST"') || !line.includes(`/v2/${to}/blobs/uploads/`)) continue;
        const status = /"status":(\d+)/.exec(line)?.[1];
        const mount = /[?&]mount=([^&"]+)/.exec(line)?.[1];
        if (status === '201' && mount && line.includes(`from=${fromParam}`)) mounted.add(decodeURIComponent(mount));
      }
      for (const blob of single.layers) {
        assert.ok(
          mounted.has(blob.digest),
          `expected a 201 mount of ${blob.digest} into ${to}; mounts seen: ${JSON.stringify([...mounted])}\n` +
            regate
              .output()
              .split('\n')
              .filter((l) => l.includes(`/v2/${to}/`))
              .join('\n'),
        );
      }

      // And the same through the API directly: POST ?mount=&from= answers 201 with the blob's
      // Location and digest, after which the blob is in the target repository.
      const third = `e2e/${storage}/mount-third`;
      const layer = single.layers[2]!;
      const response = await fetch(
        `${regate.url}/v2/${third}/blobs/uploads/?mount=${encodeURIComponent(layer.digest)}&from=${encodeURIComponent(from)}`,
        { method: 'POST' },
      );
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), layer.digest);
      assert.equal(new URL(response.headers.get('location')!, regate.url).pathname, `/v2/${third}/blobs/${layer.digest}`);
      const head = await fetch(`${regate.url}/v2/${third}/blobs/${layer.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(layer.size));
    });
  });
}
