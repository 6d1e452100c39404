// A registry token server for tests, signing JWTs the way Docker Hub's auth service does for
// Distribution's `auth.token`: RS256 with the signing certificate in the header's x5c, claims
// iss/sub/aud/exp/nbf/iat/jti and `access: [{type, name, actions}]`. Users with a password get
// what they ask for (pull, push); anonymous askers get pull on the repositories listed as public.
// It records every token request (scope, whether credentials came and whose). 127.0.0.1:0.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TokenRequest {
  scope: string;
  service: string;
  /** The user whose Basic credentials came with it, or undefined (anonymous). */
  user?: string;
  /** Credentials came but were wrong. */
  refused?: boolean;
}

export interface TokenServer {
  url: string;
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the signing certificate: Distribution's rootcertbundle. */
  bundlePath: string;
  requests: TokenRequest[];
  /** Distribution's auth section for this server. */
  distributionAuthYaml(): string;
  close(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export async function startTokenServer(options: { dir: string; users: Record<string, string>; publicRepositories?: string[]; lifetimeSeconds?: number }): Promise<TokenServer> {
  const made = await generate([{ name: 'commonName', value: 'regate test token signer' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true }],
  });
  const key = createPrivateKey(made.private);
  const der = new X509Certificate(made.cert).raw;
  const bundlePath = join(options.dir, 'token-signer.pem');
  writeFileSync(bundlePath, made.cert);
  const service = 'regate-test-upstream';
  const issuer = 'regate-test-token-server';
  const lifetime = options.lifetimeSeconds ?? 300;
  const requests: TokenRequest[] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scope = url.searchParams.get('scope') ?? '';
    const record: TokenRequest = { scope, service: url.searchParams.get('service') ?? '' };
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth?.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (options.users[name!] !== undefined && options.users[name!] === rest.join(':')) user = name;
      else record.refused = true;
    }
    if (user) record.user = user;
    requests.push(record);
    if (record.refused) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"details":"wrong credentials"}');
      return;
    }
    // scope: repository:<name>:<actions>
    const access = scope
      .split(' ')
      .map((s) => /^repository:(.+):([a-z,*]+)$/.exec(s))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => {
        const wanted = m[2]!.split(',');
        const granted = user ? wanted : (options.publicRepositories ?? []).includes(m[1]!) ? wanted.filter((a) => a === 'pull') : [];
        return { type: 'repository', name: m[1]!, actions: granted };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + lifetime, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), key))}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const realm = `${url}/token`;
  return {
    url,
    realm,
    service,
    issuer,
    bundlePath,
    requests,
    distributionAuthYaml: () => `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${bundlePath}\n`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
