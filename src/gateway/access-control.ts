// Step 6b of the gateway (regate.access): after Basic auth has said who the user is, decide
// whether they may do what the request asks to its repository, before the registry or the
// upstream sees it. The route table (registry/routes.ts) says which repository and action a
// request is, so the gateway and the registry never disagree on the name.
//
//   - Outside the user's rights: 403 DENIED in the spec's envelope (docker prints "denied:
//     requested access to the resource is denied").
//   - A cross-repository mount (`POST …/blobs/uploads/?mount=D&from=R`) needs pull on R as well as
//     push on the target; without it the mount is dropped and a plain upload starts (202), as the
//     spec has a registry do when it cannot mount, so nothing about R is revealed.
//   - /v2/_catalog lists only the repositories the user may pull (the registry, or the upstream's
//     answer, is filtered through `mayList`).
//   - In upstream mode a path that is not an API endpoint is answered 404 here, never forwarded:
//     the gateway cannot vouch for what it cannot name. A repository name that breaks the spec's
//     grammar is 400 NAME_INVALID here, so an upstream that decodes names differently
//     (%2F …) cannot be steered around a rule.
import type { RequestHandler } from 'express';
import type { AccessPolicy } from '../access/access-policy.js';
import { RegistryError } from '../registry/errors.js';
import { validateName } from '../registry/references.js';
import { requestScope } from '../registry/routes.js';
import { rawPath, requestState } from './request-state.js';
import { sendError } from './respond.js';

export interface AccessControlOptions {
  policy: AccessPolicy;
  /** The user's groups (the live groups file), or none. */
  groupsOf: (user: string) => ReadonlySet<string>;
  /** Upstream mode: paths that are no API endpoint are refused here. */
  strict: boolean;
}

export function accessControl(options: AccessControlOptions): RequestHandler {
  const { policy, groupsOf, strict } = options;
  return (req, res, next) => {
    const path = rawPath(req);
    if (path !== '/v2' && !path.startsWith('/v2/')) return next();
    const state = requestState(req);
    const user = state.user;
    if (user === undefined) return next(); // auth is off: the config refuses access rules without it
    const groups = groupsOf(user);
    const scope = requestScope(req.method, path);
    if (scope.kind === 'base') return next();
    if (scope.kind === 'catalog') {
      state.mayList = (repository) => policy.may(user, groups, repository, 'pull');
      return next();
    }
    if (scope.kind === 'unknown') {
      if (!strict) return next();
      return sendError(req, res, new RegistryError('UNSUPPORTED', undefined, { status: 404, message: 'no such API endpoint' }));
    }
    try {
      validateName(scope.repository);
    } catch (err) {
      return sendError(req, res, err as RegistryError);
    }
    if (!policy.may(user, groups, scope.repository, scope.action)) {
      return sendError(req, res, new RegistryError('DENIED', { repository: scope.repository, action: scope.action }));
    }
    if (scope.route === 'upload-start') dropUnreadableMount(req, (from) => policy.may(user, groups, from, 'pull'));
    next();
  };
}

/** Removes mount= and from= from the request target when the user may not pull `from`. */
function dropUnreadableMount(req: { url?: string }, mayPull: (repository: string) => boolean): void {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return;
  const query = new URLSearchParams(url.slice(q + 1));
  if (!query.has('mount') && !query.has('from')) return;
  const from = query.get('from');
  if (from !== null && mayPull(from)) return;
  query.delete('mount');
  query.delete('from');
  const rest = query.toString();
  req.url = `${url.slice(0, q)}${rest ? `?${rest}` : ''}`;
}
