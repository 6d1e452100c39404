// regate's own read-only additions for the web page, under `_regate/` in a repository's path (no
// repository name component can start with `_`, so they never shadow a repository), needing pull
// on the repository like its tag list:
//
//   GET /v2/<name>/_regate/tags?n=&last=   tags by last push, newest first, across pages (`last` is
//                                          the cursor the Link header hands out)
//   GET /v2/<name>/_regate/usage           bytes the repository holds (unique to it, shared with
//                                          others), from the last GC pass or `regate du`
import type { RequestContext } from '../context.js';
import { RegistryError } from '../errors.js';
import { validateName } from '../references.js';
import { nextPageLink, parseLimit } from '../pagination.js';
import { sendJson } from '../respond.js';
import type { TagPush } from '../../storage/tag-store.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function cursorOf(push: TagPush): string {
  return `${push.pushedAt}-${push.tag}`;
}

/** Where the page after `cursor` starts in the newest-first order. */
function startAfter(pushes: TagPush[], cursor: string | null): number {
  if (!cursor) return 0;
  const m = /^(\d+)-(.+)$/.exec(cursor);
  if (!m) throw new RegistryError('PAGINATION_NUMBER_INVALID', { last: cursor }, { status: 400, message: 'last: not a cursor this endpoint handed out' });
  const at = Number(m[1]);
  const tag = m[2]!;
  const index = pushes.findIndex((p) => p.pushedAt < at || (p.pushedAt === at && p.tag > tag));
  return index < 0 ? pushes.length : index;
}

export async function listTagsByPush(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const pushes = await ctx.stores.tags.pushTimes(name);
  if (!pushes) throw new RegistryError('NAME_UNKNOWN', { name });
  const limit = Math.min(parseLimit(ctx.query) ?? DEFAULT_PAGE, MAX_PAGE);
  const start = startAfter(pushes, ctx.query.get('last'));
  const page = pushes.slice(start, start + limit);
  const more = start + page.length < pushes.length && page.length > 0;
  const link = more ? nextPageLink(`/v2/${name}/_regate/tags`, limit, cursorOf(page[page.length - 1]!)) : undefined;
  sendJson(ctx.req, ctx.res, 200, { name, total: pushes.length, tags: page.map((p) => ({ tag: p.tag, pushedAt: new Date(p.pushedAt).toISOString() })) }, link ? { Link: link } : {});
}

export async function repositoryUsage(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const report = await ctx.stores.usage.latest();
  const usage = report && Object.hasOwn(report.repositories, name) ? report.repositories[name] : undefined;
  sendJson(ctx.req, ctx.res, 200, {
    name,
    measured: usage !== undefined,
    ...(report ? { measuredAt: report.measuredAt, by: report.by } : {}),
    ...(usage ?? {}),
  });
}
