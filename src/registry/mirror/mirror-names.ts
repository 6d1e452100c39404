// Which mirror a repository name belongs to, and the name the upstream knows it by.
//
//   - `docker.io/library/alpine` is the docker.io mirror's `library/alpine` (a path prefix: podman's
//     registries.conf locations, skopeo, `docker pull regate.example/docker.io/library/alpine`);
//   - containerd's `?ns=docker.io` on `library/alpine` names the same repository (ns-routing.ts
//     rewrites the request to the prefixed name before access rules look at it);
//   - with Distribution's proxy section every name is the one mirror's, unprefixed.
// Docker Hub's rule for one-component names holds upstream: docker.io/alpine is library/alpine.
import type { MirrorConfig, MirrorsConfig } from '../../config/config-types.js';
import { UpstreamClient } from './upstream-client.js';

export interface Mirror {
  readonly config: MirrorConfig;
  readonly client: UpstreamClient;
  /** `docker.io/`, or '' when the whole registry mirrors one upstream (proxy). */
  readonly prefix: string;
}

export interface MirrorTarget {
  mirror: Mirror;
  /** The repository's name on the upstream. */
  upstreamName: string;
}

export class MirrorNames {
  readonly mirrors: readonly Mirror[];
  /** Distribution's proxy: every name is mirrored and nothing may be pushed. */
  readonly pullOnly: boolean;

  constructor(config: MirrorsConfig) {
    this.pullOnly = config.pullOnly;
    this.mirrors = config.mirrors.map((m) => ({ config: m, client: new UpstreamClient(m), prefix: config.pullOnly ? '' : `${m.name}/` }));
  }

  /** The mirror a local repository name belongs to, if any. */
  of(name: string): MirrorTarget | undefined {
    for (const mirror of this.mirrors) {
      if (mirror.prefix === '' || name.startsWith(mirror.prefix)) {
        const rest = name.slice(mirror.prefix.length);
        if (rest === '') continue;
        return { mirror, upstreamName: mirror.config.name === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest };
      }
    }
    return undefined;
  }

  /** The mirror containerd's `ns` names, if one is configured for it. */
  byNamespace(ns: string): Mirror | undefined {
    const wanted = ns.toLowerCase();
    return this.mirrors.find((m) => m.config.name === wanted || (wanted === 'registry-1.docker.io' && m.config.name === 'docker.io'));
  }

  /** The mirror unprefixed names go to (Docker's registry-mirrors), if one is marked default. */
  get defaultMirror(): Mirror | undefined {
    return this.pullOnly ? undefined : this.mirrors.find((m) => m.config.default);
  }

  close(): void {
    for (const m of this.mirrors) m.client.close();
  }
}
