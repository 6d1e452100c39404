// The README and docs/ stay usable as they change: every relative link reaches a file (and a
// heading, when it names one), and every regate command a reader may copy works right after
// `npm install` in the checkout (`npx regate …`; the bare `regate` needs `npm link` first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../support/processes.js';

const docsDir = join(REPO_ROOT, 'docs');
const pages = [
  join(REPO_ROOT, 'README.md'),
  join(REPO_ROOT, 'htpasswd', 'README.md'),
  join(REPO_ROOT, 'certs', 'README.md'),
  ...readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(docsDir, name)),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

test('the docs folder holds the pages the README sends readers to', () => {
  for (const page of ['architecture.md', 'configuration.md']) assert.ok(existsSync(join(docsDir, page)), `docs/${page}`);
});

test('every relative link in the README and docs/ reaches an existing file and heading', () => {
  const broken: string[] = [];
  for (const page of pages) {
    const text = withoutCode(readFileSync(page, 'utf8'));
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [pathPart, anchor] = target.split('#') as [string, string | undefined];
      const file = pathPart === '' ? page : resolve(dirname(page), decodeURIComponent(pathPart));
      const where = `${relative(REPO_ROOT, page)} → ${target}`;
      if (!existsSync(file)) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && statSync(file).isFile() && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
        broken.push(`${where}: no such heading`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

test('regate commands in code blocks use `npx regate` (they work right after npm install; prose may name `regate gc`)', () => {
  const bare: string[] = [];
  for (const page of pages) {
    const text = readFileSync(page, 'utf8');
    const snippets = [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!).join('\n').split('\n');
    for (const line of snippets) {
      // Inside a container the image's own `regate` is on the PATH.
      if (/\b(docker|podman|kubectl)\s/.test(line)) continue;
      for (const m of line.matchAll(/(^|[^\w/-])regate (serve|user|config|gc|scrub|nginx)\b/g)) {
        const before = line.slice(0, m.index! + m[1]!.length);
        if (!/npx $/.test(before)) bare.push(`${relative(REPO_ROOT, page)}: ${line.trim()}`);
      }
    }
  }
  assert.deepEqual(bare, []);
});
