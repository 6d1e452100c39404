// GET /v2/_catalog: one page, read from storage in lexical order from `last` on (the walk stops
// once the page is full), listing only what the gateway's regate.access lets the user see.
import type { RequestContext } from '../context.js';
import { nextPageLink, parseLimit } from '../pagination.js';
import { sendJson } from '../respond.js';

export async function listCatalog(ctx: RequestContext): Promise<void> {
  const max = ctx.settings.catalogMaxEntries;
  const limit = Math.min(parseLimit(ctx.query) ?? max, max);
  const last = ctx.query.get('last');
  const page = await ctx.stores.catalog.page({
    limit,
    ...(last ? { after: last } : {}),
    ...(ctx.mayList ? { accept: ctx.mayList } : {}),
  });
  const items = page.repositories;
  const link = page.more && items.length > 0 ? nextPageLink('/v2/_catalog', limit, items[items.length - 1]!) : undefined;
  sendJson(ctx.req, ctx.res, 200, { repositories: items }, link ? { Link: link } : {});
}
