// GET /v2/<name>/referrers/<digest>[?artifactType=…]
import type { RequestContext } from '../context.js';
import { Digest, validateName } from '../references.js';
import { MEDIA_TYPES } from '../manifests.js';
import { sendJson } from '../respond.js';

export async function listReferrers(ctx: RequestContext): Promise<void> {
  const name = validateName(ctx.params.name!);
  const subject = Digest.parse(ctx.params.digest!);
  const artifactType = ctx.query.get('artifactType');
  let manifests = await ctx.stores.referrers.referrers(name, subject);
  const headers: Record<string, string> = { 'Content-Type': MEDIA_TYPES.ociIndex };
  if (artifactType !== null) {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  sendJson(ctx.req, ctx.res, 200, { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, headers);
}
