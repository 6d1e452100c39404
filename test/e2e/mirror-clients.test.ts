// Real clients configured the way teams point them at a mirror, pulling Distribution 2.8.2's
// images through regate: the Docker engine with `registry-mirrors` in daemon.json (unprefixed
// names, no ns: the default mirror), and podman with a registries.conf mirror location that has a
// path (`regate/docker.io`). What each pulled is the upstream's image.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOciImage, type BuiltImage } from '../support/image-builder.js';
import { makeTempDir, skopeo, startDistribution, type RegistryHandle } from '../support/processes.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startDockerd, type DockerEngine } from '../support/dockerd.js';
import { startPodman, type Podman } from '../support/podman.js';

const USER: [string, string] = ['puller', 'mirror-clients-3'];

const tmp = makeTempDir('regate-mirror-clients-');
let upstream: RegistryHandle;
let gw: Gateway;
let dockerImage: BuiltImage;
let podmanImage: BuiltImage;

before(async () => {
  upstream = await startDistribution({ rootDir: join(tmp.path, 'upstream') });
  dockerImage = buildOciImage({ dir: join(tmp.path, 'docker-image'), seed: 'mirror-docker-engine' });
  podmanImage = buildOciImage({ dir: join(tmp.path, 'podman-image'), seed: 'mirror-podman' });
  await skopeo(['copy', '--dest-tls-verify=false', dockerImage.pushRef, `docker://${upstream.host}/library/dockerimg:1`]);
  await skopeo(['copy', '--dest-tls-verify=false', podmanImage.pushRef, `docker://${upstream.host}/library/podmanimg:1`]);
  gw = await startGateway({ users: { [USER[0]]: USER[1] }, config: { regate: { mirrors: [{ name: 'docker.io', url: upstream.url, default: true }] } } });
});

after(async () => {
  await gw?.close();
  await upstream?.stop();
  tmp.remove();
});

const configDigest = (image: BuiltImage): string => (JSON.parse(image.top.bytes.toString()) as { config: { digest: string } }).config.digest;

describe('clients pointed at a mirror', { timeout: 600_000 }, () => {
  it('the Docker engine with registry-mirrors pulls library/dockerimg:1 through regate (Docker Hub credentials go to the mirror)', async () => {
    let engine: DockerEngine | undefined;
    try {
      engine = await startDockerd({ daemonConfig: { 'registry-mirrors': [gw.url] } });
      // Docker sends a mirror the credentials it holds for Docker Hub.
      writeFileSync(join(engine.configDir, 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from(USER.join(':')).toString('base64') } } }));
      const pulled = await engine.docker(['pull', 'dockerimg:1'], { timeoutMs: 300_000 });
      assert.equal(pulled.code, 0, `${pulled.stdout.toString()}\n${pulled.stderr}\n${engine.output().slice(-3000)}`);
      const id = (await engine.dockerChecked(['image', 'inspect', '--format', '{{.Id}}', 'dockerimg:1'])).stdout.toString().trim();
      assert.equal(id, configDigest(dockerImage), 'the image is the upstream\'s');
      const cached = await gw.send('GET', '/v2/docker.io/library/dockerimg/tags/list', { auth: USER });
      assert.deepEqual(cached.json().tags, ['1'], 'stored under the mirror\'s name');
    } finally {
      await engine?.stop();
    }
  });

  it('podman with a registries.conf mirror location holding a path pulls docker.io/library/podmanimg:1 through regate', async () => {
    const podman: Podman = startPodman();
    try {
      const conf = join(podman.dir, 'registries.conf');
      const host = new URL(gw.url).host;
      writeFileSync(conf, `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${host}/docker.io"\ninsecure = true\n`);
      writeFileSync(podman.authFile, JSON.stringify({ auths: { [host]: { auth: Buffer.from(USER.join(':')).toString('base64') } } }));
      podman.env.CONTAINERS_REGISTRIES_CONF = conf;
      const pulled = await podman.podman(['pull', '--signature-policy', podman.policyFile, 'docker.io/library/podmanimg:1'], { timeoutMs: 300_000 });
      assert.equal(pulled.code, 0, `${pulled.stdout.toString()}\n${pulled.stderr}`);
      const id = (await podman.podmanChecked(['image', 'inspect', '--format', '{{.Id}}', 'docker.io/library/podmanimg:1'])).stdout.toString().trim();
      assert.equal(`sha256:${id}`, configDigest(podmanImage));
      const cached = await gw.send('GET', '/v2/docker.io/library/podmanimg/tags/list', { auth: USER });
      assert.deepEqual(cached.json().tags, ['1']);
    } finally {
      await podman.stop();
    }
  });
});
