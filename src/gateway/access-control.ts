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
import { isValidName, validateName } from '../registry/references.js';
import { requestScope } from '../registry/routes.js';
import { rawPath, requestState } from './request-state.js';
import { sendError } from '../registry/respond.js';

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
    // An upstream decodes %2F and friends before it routes: what the gateway checked would not be
    // what it serves. No valid API path needs a percent sign.
    if (strict && path.includes('%')) {
      return sendError(req, res, new RegistryError('UNSUPPORTED', undefined, { status: 400, message: 'percent-encoded API paths are not accepted' }));
    }
    const state = requestState(req);
    const user = state.user;
    if (user === undefined) return next(); // auth is off: the config refuses access rules without it
    const groups = groupsOf(user);
    const scope = requestScope(req.method, path);
    if (scope.kind === 'base') return next();
    if (scope.kind === 'catalog' && req.method !== 'GET' && req.method !== 'HEAD') {
      if (!strict) return next(); // the registry answers 405
      return sendError(req, res, new RegistryError('UNSUPPORTED', { method: req.method }, { status: 405, message: `${req.method} is not supported here`, headers: { Allow: 'GET' } }));
    }
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
    if (scope.route === 'upload-start') {
      // Distribution also reads mount/from from a form body, where no query check can see them.
      const type = String(req.headers['content-type'] ?? '').toLowerCase();
      if (strict && (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data'))) {
        return sendError(req, res, new RegistryError('BLOB_UPLOAD_INVALID', undefined, { message: 'form bodies are not accepted when starting an upload' }));
      }
      checkMount(req, strict, (from) => policy.may(user, groups, from, 'pull'));
    }
    next();
  };
}

/**
 * Keeps mount= and from= only when there is exactly one of each, `from` is a valid name and the
 * user may pull it; otherwise both go and a plain upload starts. In front of an upstream the query
 * is always written back from what was parsed here, so the upstream reads exactly what was checked
 * (Go's parser skips pairs that URLSearchParams keeps, such as ones with `;` or a bad escape).
 */
function checkMount(req: { url?: string }, strict: boolean, mayPull: (repository: string) => boolean): void {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return;
  const query = new URLSearchParams(url.slice(q + 1));
  const froms = query.getAll('from');
  const mounts = query.getAll('mount');
  const readable = froms.length === 1 && mounts.length === 1 && isValidName(froms[0]!) && mayPull(froms[0]!);
  if (!readable && (froms.length > 0 || mounts.length > 0)) {
    query.delete('mount');
    query.delete('from');
  } else if (!strict) {
    return;
  }
  const rest = query.toString();
  req.url = `${url.slice(0, q)}${rest ? `?${rest}` : ''}`;
}
