// GET /v2/<name>/tags/list
import type { RequestContext } from '../context.js';
import { RegistryError } from '../errors.js';
import { validateName } from '../references.js';
import { paginate } from '../pagination.js';
import { sendJson } from '../respond.js';

const MAX_TAGS_PER_PAGE = 100_000;

export async function listTags(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const tags = await ctx.stores.tags.list(name);
  if (!tags) throw new RegistryError('NAME_UNKNOWN', { name });
  const page = paginate(tags, ctx.query, `/v2/${name}/tags/list`, MAX_TAGS_PER_PAGE);
  sendJson(ctx.req, ctx.res, 200, { name, tags: page.items }, page.link ? { Link: page.link } : {});
}
