// GET /v2/_catalog
import type { RequestContext } from '../context.js';
import { paginate } from '../pagination.js';
import { sendJson } from '../respond.js';

export async function listCatalog(ctx: RequestContext): Promise<void> {
  const all = await ctx.stores.catalog.repositories();
  const repositories = ctx.mayList ? all.filter(ctx.mayList) : all;
  const max = ctx.settings.catalogMaxEntries;
  const page = paginate(repositories, ctx.query, '/v2/_catalog', max, max);
  sendJson(ctx.req, ctx.res, 200, { repositories: page.items }, page.link ? { Link: page.link } : {});
}
