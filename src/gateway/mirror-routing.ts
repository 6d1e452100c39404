// Step 6b0 (before access rules): requests for a mirror that do not name it in the path are
// rewritten to the mirror's own names, so access rules, logs and storage all see one name:
//
//   - containerd sends every request to a mirror with `?ns=<registry host>`: `/v2/library/alpine/…
//     ?ns=docker.io` becomes `/v2/docker.io/library/alpine/…` when docker.io is a configured mirror
//     (an ns no mirror stands for is 404: never the team's own repository, nor another registry's
//     content, under that registry's name; containerd sends ns only for a registry other than
//     the one it asks, so the request's own host as ns is the team's own name);
//   - Docker's `registry-mirrors` sends unprefixed names with no ns: a pull of a name that is no
//     repository of the team's own goes to the mirror marked `default`. A repository the team has
//     pushed keeps its name, so a mirror never shadows it.
import type { RequestHandler } from 'express';
import type { MirrorNames } from '../registry/mirror/mirror-names.js';
import { requestScope } from '../registry/routes.js';
import { rawPath } from './request-state.js';
import { RegistryError } from '../registry/errors.js';
import { sendError } from '../registry/respond.js';

export function mirrorRouting(mirrors: MirrorNames, isOwnRepository: (name: string) => Promise<boolean>): RequestHandler {
  return (req, res, next) => {
    const url = req.url ?? '/';
    const path = rawPath(req);
    if (!path.startsWith('/v2/') || mirrors.pullOnly) return next();
    const scope = requestScope(req.method, path);
    if (scope.kind !== 'repository' || mirrors.of(scope.repository)) return next();
    const q = url.indexOf('?');
    const ns = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('ns');
    const rewrite = (prefix: string): void => {
      req.url = `/v2/${prefix}${url.slice('/v2/'.length)}`;
      next();
    };
    if (ns) {
      const mirror = mirrors.byNamespace(ns);
      if (mirror) return rewrite(mirror.prefix);
      if (ns.toLowerCase() === String(req.headers.host ?? '').toLowerCase()) return next();
      return sendError(req, res, new RegistryError('NAME_UNKNOWN', { ns }, { status: 404, message: `no mirror of ${ns} is configured here (regate.mirrors)` }));
    }
    const fallback = mirrors.defaultMirror;
    if (!fallback || scope.action !== 'pull') return next();
    isOwnRepository(scope.repository).then((own) => (own ? next() : rewrite(fallback.prefix)), next);
  };
}
