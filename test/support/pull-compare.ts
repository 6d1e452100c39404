// Pulling an image back with skopeo and checking it byte for byte against what was pushed: every
// manifest and blob, and `inspect --raw` of each tag. Shared by the interop tests.
import assert from 'node:assert/strict';
import { diffPulledImage, readPulledImage, type BuiltImage } from './image-builder.js';
import { skopeo, type RegistryHandle } from './processes.js';

/** Pulls repo:v1 into `out` (which must not exist yet) and compares; `tags` are inspected raw. */
export async function pullAndCompare(server: RegistryHandle, image: BuiltImage, repo: string, out: string, tags: readonly string[] = ['v1']): Promise<void> {
  // skopeo's oci: destination cannot write a Docker manifest list; dir: keeps it byte for byte.
  const ref = image.kind === 'docker-list' ? `dir:${out}` : `oci:${out}:v1`;
  await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${server.host}/${repo}:v1`, ref]);
  assert.deepEqual(diffPulledImage(image, readPulledImage(ref)), [], `${ref} pulled from ${server.url}/${repo} differs from what was pushed`);
  for (const tag of tags) {
    const raw = (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${server.host}/${repo}:${tag}`])).stdout;
    assert.ok(raw.equals(image.top.bytes), `inspect --raw ${repo}:${tag} from ${server.url} differs from the pushed manifest`);
  }
}
