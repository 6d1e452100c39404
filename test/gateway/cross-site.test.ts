// A browser holding a user's Basic credentials attaches them to requests another site makes it send;
// a form can POST without a CORS preflight (a monolithic blob upload, for one). Such requests are
// refused before anything changes; CLI clients, which send no Sec-Fetch-Site or Origin, are not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, sha256, startGateway, type Gateway } from '../support/gateway.js';

const ALICE: [string, string] = ['alice', 'alice-cross-site-1'];
let gw: Gateway;

before(async () => {
  gw = await startGateway({ users: { [ALICE[0]]: ALICE[1] } });
});
after(async () => {
  await gw?.close();
});

describe('state-changing requests a browser makes for another site', () => {
  const blob = Buffer.from('a form post body');
  const upload = (headers: Record<string, string>) =>
    gw.send('POST', `/v2/csrf/target/blobs/uploads/?digest=${sha256(blob)}`, { auth: ALICE, body: blob, headers: { 'Content-Type': 'text/plain', ...headers } });

  it('refuses them (Sec-Fetch-Site cross-site or same-site, or a foreign Origin) and stores nothing', async () => {
    for (const headers of <Array<Record<string, string>>>[{ 'Sec-Fetch-Site': 'cross-site' }, { 'Sec-Fetch-Site': 'same-site' }, { Origin: 'https://evil.example' }, { Origin: 'null' }]) {
      const res = await upload(headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(errorCode(res), 'DENIED');
    }
    assert.equal((await gw.send('HEAD', `/v2/csrf/target/blobs/${sha256(blob)}`, { auth: ALICE })).status, 404, 'nothing was stored');
    const del = await gw.send('DELETE', '/v2/csrf/target/manifests/latest', { auth: ALICE, headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(del.status, 403);
  });

  it('lets the page itself, the user\'s own navigation, reads, and CLI clients through', async () => {
    const host = new URL(gw.url).host;
    assert.equal((await upload({ 'Sec-Fetch-Site': 'same-origin', Origin: `https://${host}` })).status, 201);
    assert.equal((await upload({ 'Sec-Fetch-Site': 'none' })).status, 201);
    assert.equal((await upload({})).status, 201, 'docker, podman, skopeo send neither header');
    assert.equal((await gw.send('GET', `/v2/csrf/target/blobs/${sha256(blob)}`, { auth: ALICE, headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 200, 'a read changes nothing');
  });
});
