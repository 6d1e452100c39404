// `regate health`: is the regate on this machine answering? For the container image's HEALTHCHECK,
// which may use no tool the image lacks (no curl in a slim image): node itself asks the ping path
// that `regate serve --ready-file F` wrote to F once it was listening. Exit 0 when healthy.
//
// Liveness only, as `/_ping` is: the storage's health is /debug/health on the debug listener.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RegateConfig } from '../config/config-types.js';

/**
 * The URL that says regate is alive: its first ping path (answered 200 without auth) or, with
 * regate.ping empty, `/v2/` (200 or 401). On loopback when regate listens on every interface.
 */
export function healthUrl(serverUrl: string, config: Pick<RegateConfig, 'http' | 'regate'>): string {
  const url = new URL(serverUrl);
  const host = config.http.host;
  url.hostname = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  url.pathname = config.regate.pingPaths[0] ?? '/v2/';
  return url.href;
}

/** Resolves with the status of a GET of `url` (the certificate is not checked: this is regate's own, on this machine). */
export function probe(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that the regate on this machine answers its ping path (for container health checks)')
    .option('--ready-file <file>', 'the file `regate serve --ready-file` wrote', '/tmp/regate.ready')
    .option('--url <url>', 'check this URL instead')
    .action(async (options: { readyFile: string; url?: string }) => {
      let url = options.url;
      if (!url) {
        try {
          url = readFileSync(options.readyFile, 'utf8').trim();
        } catch (err) {
          process.stderr.write(`regate health: not ready: ${(err as Error).message}\n`);
          process.exit(1);
        }
      }
      try {
        const status = await probe(url, 3000);
        const healthy = status === 200 || (new URL(url).pathname === '/v2/' && status === 401);
        process.stdout.write(`regate health: ${url} answered ${status}\n`);
        process.exit(healthy ? 0 : 1);
      } catch (err) {
        process.stderr.write(`regate health: ${url}: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
