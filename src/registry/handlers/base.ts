// GET /v2/ — the API version check clients start with.
import type { RequestContext } from '../context.js';
import { sendJson } from '../respond.js';

export async function apiBase(ctx: RequestContext): Promise<void> {
  sendJson(ctx.req, ctx.res, 200, {});
}
