// /ui/: the web page, behind the gateway's TLS (regate.ui.enabled). This serves the shell, the
// stylesheet and the page's compiled modules (src/ui/browser/, built with the rest), which hold no
// data and so come before auth (the page shows its sign-in form); each has a Content-Security-Policy
// that allows no inline script, no other origin and no framing. The page's data comes from /v2/,
// behind auth and access rules as for any client.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RequestHandler, Response } from 'express';
import { rawPath } from '../gateway/request-state.js';
import { UI_CSS, UI_HTML } from './ui-page.js';

export const UI_PATH = '/ui';

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

interface Asset {
  type: string;
  body: Buffer;
}

/** The page's files, read once: the shell, the stylesheet, and every compiled module of browser/. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>([
    [`${UI_PATH}/`, { type: 'text/html; charset=utf-8', body: Buffer.from(UI_HTML) }],
    [`${UI_PATH}/app.css`, { type: 'text/css; charset=utf-8', body: Buffer.from(UI_CSS) }],
  ]);
  const dir = fileURLToPath(new URL('./browser/', import.meta.url));
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.js')) continue;
    // The source map comment would only send devtools after files this router does not serve.
    const code = readFileSync(`${dir}${file}`, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    assets.set(`${UI_PATH}/js/${file}`, { type: 'text/javascript; charset=utf-8', body: Buffer.from(code) });
  }
  return assets;
}

function send(res: Response, status: number, headers: Record<string, string>, body?: Buffer, head = false): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Cache-Control': 'no-cache', ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) });
  res.end(head ? undefined : body);
}

/** GET and HEAD of the page's paths; anything else goes on (and ends as the gateway's 404). */
export function webUi(): RequestHandler {
  const assets = loadAssets();
  return (req, res, next) => {
    const path = rawPath(req).split('?')[0]!;
    if (path !== UI_PATH && !path.startsWith(`${UI_PATH}/`)) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (path === UI_PATH) {
      // ?login=basic asks for the browser's own dialog: auth challenges it, ui-session-routes.ts answers.
      if (new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('login') === 'basic') return next();
      return send(res, 301, { Location: `${UI_PATH}/` }, undefined, true);
    }
    const asset = assets.get(path);
    if (!asset) return next();
    send(res, 200, { 'Content-Type': asset.type }, asset.body, req.method === 'HEAD');
  };
}
