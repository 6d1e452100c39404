// A minimal Keystone token endpoint in front of the real Swift all-in-one, for the Keystone code
// paths no real Keystone here can exercise: v2.0 does not exist in any Keystone that runs on this
// machine (Zed answers 404). It checks the credentials and the tenant it is configured with,
// gets a real Swift token from tempauth, and answers in v2.0's shape (`access.token.id`,
// `access.serviceCatalog[].endpoints[].publicURL`), or in v3's (`X-Subject-Token`,
// `token.catalog[].endpoints[]` by interface) for the request-shape checks of v3. It records the
// request bodies it got. Bound to 127.0.0.1:0.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MinimalKeystone {
  url: string;
  /** JSON bodies received, in order. */
  requests: Array<{ path: string; body: any }>;
  close(): Promise<void>;
}

export interface MinimalKeystoneOptions {
  /** Real v1 auth behind it (the all-in-one's tempauth). */
  v1: { authUrl: string; username: string; password: string };
  username: string;
  password: string;
  tenant: string;
  region: string;
}

async function realToken(v1: MinimalKeystoneOptions['v1']): Promise<{ token: string; storageUrl: string }> {
  const res = await fetch(v1.authUrl, { headers: { 'x-auth-user': v1.username, 'x-auth-key': v1.password } });
  await res.arrayBuffer();
  return { token: res.headers.get('x-auth-token')!, storageUrl: res.headers.get('x-storage-url')! };
}

export async function startMinimalKeystone(options: MinimalKeystoneOptions): Promise<MinimalKeystone> {
  const requests: MinimalKeystone['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body: any;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400).end();
          return;
        }
        requests.push({ path: req.url ?? '', body });
        const expires = new Date(Date.now() + 3600_000).toISOString();
        if (req.method === 'POST' && req.url === '/v2.0/tokens') {
          const creds = body?.auth?.passwordCredentials;
          if (creds?.username !== options.username || creds?.password !== options.password || body?.auth?.tenantName !== options.tenant) {
            res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'The request you have made requires authentication.', code: 401 } }));
            return;
          }
          const { token, storageUrl } = await realToken(options.v1);
          const endpoint = { region: options.region, publicURL: storageUrl, internalURL: storageUrl, adminURL: storageUrl };
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              access: {
                token: { id: token, expires: expires.replace(/\.\d+Z$/, 'Z'), tenant: { name: options.tenant, id: 't1' } },
                serviceCatalog: [
                  { type: 'identity', name: 'keystone', endpoints: [{ region: options.region, publicURL: 'http://127.0.0.1:1/v2.0' }] },
                  { type: 'object-store', name: 'swift', endpoints: [{ ...endpoint, region: 'ElsewhereOne', publicURL: 'http://127.0.0.1:1/v1/wrong' }, endpoint] },
                ],
              },
            }),
          );
          return;
        }
        if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
          const identity = body?.auth?.identity;
          const password = identity?.password?.user?.password ?? identity?.application_credential?.secret;
          if (password !== options.password) {
            res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'The request you have made requires authentication.', code: 401 } }));
            return;
          }
          const { token, storageUrl } = await realToken(options.v1);
          res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': token }).end(
            JSON.stringify({
              token: {
                expires_at: expires,
                catalog: [
                  {
                    type: 'object-store',
                    endpoints: [
                      { interface: 'public', region: options.region, url: storageUrl },
                      { interface: 'internal', region: options.region, url: storageUrl },
                      { interface: 'public', region: 'ElsewhereOne', url: 'http://127.0.0.1:1/v1/wrong' },
                    ],
                  },
                ],
              },
            }),
          );
          return;
        }
        res.writeHead(404).end();
      })().catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
