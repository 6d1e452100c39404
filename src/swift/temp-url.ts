// Swift TempURLs (the tempurl middleware): a signed, expiring URL a client may GET an object from
// without a token. The key is the configured `secretkey`, installed once as the account's (or,
// with `tempurlcontainerkey`, the container's) Temp-URL-Key, as Distribution's driver does. The
// signature uses sha256 when the cluster lists it in /info (Swift 2.30 does), else sha1 (Ceph RGW
// 16 lists no digests and checks sha1).
//
// Before the first URL is handed out, one is tried on a probe object: a cluster that refuses it
// (no tempurl middleware, or Ceph RGW 16 with a container key, which it ignores) gets no redirects
// at all, rather than clients that follow a redirect into a 401.
import { createHmac } from 'node:crypto';
import { discard, sendWhole } from './http.js';
import { encodeObjectName, type SwiftClient } from './client.js';

/** Distribution's default lifetime of a redirect URL. */
export const TEMP_URL_LIFETIME_MS = 20 * 60 * 1000;

type Digest = 'sha256' | 'sha1';

export class TempUrlSigner {
  #ready: Promise<Digest> | undefined;
  /** The cluster refused a signed URL: no redirects for the life of the process. */
  #refused = false;

  constructor(
    private readonly client: SwiftClient,
    private readonly key: string,
    private readonly onContainer: boolean,
    /** An object name outside the registry's layout, for the probe. */
    private readonly probeObject: string,
  ) {}

  /**
   * Installs the key, picks the digest and probes, once; undefined when the cluster refuses its
   * TempURLs (the error of that first time says why). A transient failure is tried again later.
   */
  #prepare(): Promise<Digest | undefined> {
    if (this.#refused) return Promise.resolve(undefined);
    if (!this.#ready) {
      const attempt = this.#setUp();
      this.#ready = attempt;
      attempt.catch(() => {
        if (this.#ready === attempt) this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  async #setUp(): Promise<Digest> {
    const header = this.onContainer ? 'x-container-meta-temp-url-key' : 'x-account-meta-temp-url-key';
    await discard(await this.client.request('POST', undefined, { accountLevel: !this.onContainer, headers: { [header]: this.key } }));
    const info = await this.client.info().catch(() => ({}) as Record<string, any>);
    const allowed: unknown = info?.tempurl?.allowed_digests;
    const digest: Digest = Array.isArray(allowed) && allowed.includes('sha256') ? 'sha256' : 'sha1';
    await discard(await this.client.put(this.probeObject, Buffer.from('regate tempurl probe')));
    const probe = await sendWhole(new URL(await this.#url(this.probeObject, 'GET', digest, Date.now())), this.client.agents, { method: 'GET', timeoutMs: 30_000 });
    if (probe.status === 401 || probe.status === 403) {
      this.#refused = true;
      const which = this.onContainer ? "the container's key (tempurlcontainerkey)" : "the account's key";
      throw new Error(`the cluster refused a TempURL signed with the configured secretkey as ${which} (HTTP ${probe.status}): blobs are served directly`);
    }
    if (probe.status !== 200) throw new Error(`probing TempURLs answered HTTP ${probe.status}`);
    return digest;
  }

  async #url(object: string, method: string, digest: Digest, now: number): Promise<string> {
    const session = await this.client.tokens.session();
    const url = new URL(`${session.storageUrl.replace(/\/+$/, '')}/${encodeURIComponent(this.client.container)}/${encodeObjectName(object)}`);
    const expires = Math.floor((now + TEMP_URL_LIFETIME_MS) / 1000);
    // Swift signs the path as it reaches the middleware: percent-decoded.
    const signature = createHmac(digest, this.key).update(`${method}\n${expires}\n${decodeURIComponent(url.pathname)}`).digest('hex');
    url.search = `temp_url_sig=${signature}&temp_url_expires=${expires}`;
    return url.toString();
  }

  /** A URL for `method` on `object`, valid for TEMP_URL_LIFETIME_MS; undefined when TempURLs do not work here. */
  async sign(object: string, method: string, now = Date.now()): Promise<string | undefined> {
    const digest = await this.#prepare();
    return digest && this.#url(object, method, digest, now);
  }
}
