// The page's views, one per hash route: #/ (repositories), #/r/<name> (its tags), #/r/<name>/t/<ref>
// (an image or index, by tag or digest). Everything shown comes from the registry API and is put
// on the page as text (dom.ts).
import { ApiError, catalogPage, deleteManifest, getConfig, getManifest, getReferrers, INDEX_TYPES, repositoryUsage, searchRepositories, signIn, signOut, tagDigest, tagsByPush, tagsPage, whoAmI, type Descriptor, type FetchedManifest, type ImageConfig, type SignedIn } from './api.js';
import { append, el, humanSize, replace, routeHref, routeLink, table } from './dom.js';

const PAGE_SIZE = 50;
/** Manifest reads for a page of tags, at most this many at once. */
const DETAILS_AT_ONCE = 6;
/** Tags looked at to say which others point at a digest about to go (a repository's first ones). */
const TAGS_CHECKED_FOR_DELETE = 2000;

const main = document.getElementById('main')!;
const crumbs = document.getElementById('crumbs')!;
const account = document.getElementById('account')!;

/** The view being shown; a newer navigation makes older async work stop drawing. */
let generation = 0;

function status(text: string, kind: 'info' | 'error' = 'info'): HTMLElement {
  return el('p', { class: `status ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

function explain(err: unknown): string {
  if (err instanceof ApiError && err.status === 401) return 'Not signed in, or the session ended.';
  if (err instanceof ApiError && err.status === 403) return `You may not do this here (${err.message}).`;
  if (err instanceof ApiError && err.status === 405) return 'Deleting is turned off on this registry (storage.delete.enabled).';
  return err instanceof Error ? err.message : String(err);
}

function setCrumbs(...parts: Array<[string, string | undefined]>): void {
  replace(
    crumbs,
    ...parts.flatMap(([text, href], i) => [i > 0 ? el('span', { 'aria-hidden': 'true' }, ' / ') : undefined, href ? el('a', { href }, text) : el('span', { 'aria-current': 'page' }, text)]),
  );
}

/** A filter box over the rows already shown; pages themselves come from the server. */
function filterBox(label: string, onInput: (text: string) => void): HTMLElement {
  const id = `filter-${Math.random().toString(36).slice(2)}`;
  const input = el('input', { id, type: 'search', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
  input.addEventListener('input', () => onInput(input.value.trim().toLowerCase()));
  return el('div', { class: 'filter' }, el('label', { for: id }, label), input);
}

/** Previous / next buttons over pages addressed by their `last` (the API's pagination). */
function pager(history: Array<string | undefined>, next: string | undefined, go: (last: string | undefined, history: Array<string | undefined>) => void): HTMLElement {
  const previous = el('button', { type: 'button' }, 'Previous page') as HTMLButtonElement;
  previous.disabled = history.length <= 1;
  previous.addEventListener('click', () => {
    const back = history.slice(0, -1);
    go(back[back.length - 1], back);
  });
  const following = el('button', { type: 'button' }, 'Next page') as HTMLButtonElement;
  following.disabled = next === undefined;
  following.addEventListener('click', () => go(next, [...history, next]));
  return el('nav', { class: 'pager', 'aria-label': 'pages' }, previous, following);
}

/** A repository search waits this long after the last key before it asks. */
const SEARCH_DELAY_MS = 200;

async function showRepositories(mine: number): Promise<void> {
  setCrumbs(['Repositories', undefined]);
  const results = el('div', { 'aria-live': 'polite' });
  const jump = el('form', { class: 'jump' });
  const jumpInput = el('input', { id: 'jump-to', type: 'text', autocomplete: 'off', spellcheck: 'false', required: '' }) as HTMLInputElement;
  append(jump, el('label', { for: 'jump-to' }, 'Open a repository by name'), jumpInput, el('button', { type: 'submit' }, 'Open'));
  jump.addEventListener('submit', (event) => {
    event.preventDefault();
    if (jumpInput.value.trim() !== '') location.hash = routeHref('r', jumpInput.value.trim());
  });
  const search = el('input', { id: 'search-repos', type: 'search', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
  const searchBox = el('div', { class: 'filter' }, el('label', { for: 'search-repos' }, 'Search repositories whose name starts with'), search);
  replace(main, el('h1', {}, 'Repositories'), jump, searchBox, results);

  let shown = 0;
  const load = async (prefix: string, last: string | undefined, history: Array<string | undefined>): Promise<void> => {
    const mineToo = ++shown;
    replace(results, status(prefix ? `Searching for ${prefix}…` : 'Loading repositories…'));
    try {
      const page = prefix ? await searchRepositories(prefix, PAGE_SIZE, last) : await catalogPage(PAGE_SIZE, last);
      if (mine !== generation || mineToo !== shown) return;
      const list = el('ul', { class: 'names' }, ...page.items.map((name) => el('li', {}, routeLink(name, 'r', name))));
      const none = prefix ? `No repository name starts with ${prefix}${last === undefined ? '' : ' beyond these'}.` : last === undefined ? 'No repositories yet.' : 'No more repositories.';
      replace(results, page.items.length === 0 ? status(none) : list, pager(history, page.next, (l, h) => void load(prefix, l, h)));
    } catch (err) {
      if (mine !== generation || mineToo !== shown) return;
      if (err instanceof ApiError && err.status === 401) return showSignIn('Your session ended: sign in again.');
      replace(results, status(explain(err), 'error'));
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load(search.value.trim().toLowerCase(), undefined, [undefined]), SEARCH_DELAY_MS);
  });
  await load('', undefined, [undefined]);
}

interface TagRow {
  tag: string;
  row: HTMLElement;
  cells: { digest: HTMLElement; size: HTMLElement; platforms: HTMLElement; created: HTMLElement; referrers: HTMLElement };
}

type TagOrder = 'name' | 'pushed';

/** "3.1 MB unique to it, 20 MB shared with others, measured … by a GC pass". */
function usageLine(name: string): HTMLElement {
  const line = el('p', { class: 'usage' }, 'Storage: …');
  void repositoryUsage(name).then(
    (usage) => {
      if (!usage) return replace(line, 'Storage: not measured by the registry behind this one.');
      const when = usage.measuredAt ? ` (measured ${usage.measuredAt} by ${usage.by === 'du' ? 'regate du' : 'a GC pass'})` : '';
      if (!usage.measured) return replace(line, `Storage: not measured yet${when}; the next GC pass or a run of regate du measures it.`);
      replace(line, `Storage: ${humanSize(usage.unique ?? 0)} unique to this repository, ${humanSize(usage.shared ?? 0)} shared with others, in ${usage.blobs ?? 0} blobs${when}.`);
    },
    () => replace(line, 'Storage: could not be read.'),
  );
  return line;
}

async function showRepository(mine: number, name: string, order: TagOrder, last: string | undefined, history: Array<string | undefined>): Promise<void> {
  setCrumbs(['Repositories', '#/'], [name, undefined]);
  replace(main, status('Loading tags…'));
  const byPush = order === 'pushed' ? await tagsByPush(name, PAGE_SIZE, last) : undefined;
  if (order === 'pushed' && !byPush) {
    replace(main, status('This registry cannot sort tags by push time (regate is in front of another registry).', 'error'));
    return;
  }
  const page = byPush ?? (await tagsPage(name, PAGE_SIZE, last));
  if (mine !== generation) return;
  const pushedAt = new Map((byPush?.items ?? []).map((p) => [p.tag, p.pushedAt]));
  const tagNames = byPush ? byPush.items.map((p) => p.tag) : (page.items as string[]);
  const rows: TagRow[] = tagNames.map((tag) => {
    const cells = { digest: el('td', {}, '…'), size: el('td', {}, ''), platforms: el('td', {}, ''), created: el('td', {}, ''), referrers: el('td', {}, '') };
    const at = pushedAt.get(tag);
    const pushed = byPush ? el('td', { class: 'when' }, at ? el('time', { datetime: at }, when(at)) : '') : undefined;
    const row = el('tr', {}, el('th', { scope: 'row', class: 'tag' }, routeLink(tag, 'r', name, 't', tag)), pushed, cells.digest, cells.size, cells.platforms, cells.created, cells.referrers);
    return { tag, row, cells };
  });
  const headings = ['tag', ...(byPush ? ['pushed'] : []), 'digest', 'size', 'platforms', 'created', 'referrers'];
  const tags = el(
    'table',
    {},
    el('caption', {}, `Tags of ${name}${byPush ? `, newest push first (${byPush.total} in all)` : ', by name'}`),
    el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => r.row)),
  );
  const sort = el('select', { id: 'tag-order' }) as HTMLSelectElement;
  for (const [value, label] of [['name', 'name'], ['pushed', 'newest push first']] as const) {
    const option = el('option', { value }, label) as HTMLOptionElement;
    option.selected = value === order;
    append(sort, option);
  }
  sort.addEventListener('change', () => void run((g) => showRepository(g, name, sort.value as TagOrder, undefined, [undefined])));
  replace(
    main,
    el('h1', {}, name),
    usageLine(name),
    el('div', { class: 'filter' }, el('label', { for: 'tag-order' }, 'Sort tags by'), sort),
    filterBox('Filter this page of tags', (text) => rows.forEach((r) => (r.row.hidden = !r.tag.toLowerCase().includes(text)))),
    rows.length === 0 ? status('This repository has no tags.') : tags,
    pager(history, page.next, (l, h) => void run((g) => showRepository(g, name, order, l, h))),
  );
  // Each tag's details, a few at a time, filled in as they come.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length && mine === generation) {
      const r = rows[next++]!;
      try {
        const image = await getManifest(name, r.tag);
        const [summary, referrers] = await Promise.all([summarise(name, image), getReferrers(name, image.digest).catch(() => undefined)]);
        replace(r.cells.digest, el('code', {}, shortDigest(image.digest)));
        replace(r.cells.size, summary.size === undefined ? '–' : humanSize(summary.size));
        replace(r.cells.platforms, summary.platforms.join(', ') || '–');
        replace(r.cells.created, summary.created ?? '–');
        if (referrers === undefined) replace(r.cells.referrers, '?');
        else {
          replace(r.cells.referrers, referrerSummary(referrers));
          if (referrers.length > 0) r.cells.referrers.setAttribute('title', [...new Set(referrers.map(artifactTypeOf))].join(', '));
        }
      } catch (err) {
        replace(r.cells.digest, explain(err));
      }
    }
  };
  await Promise.all(Array.from({ length: DETAILS_AT_ONCE }, worker));
}

const artifactTypeOf = (d: Descriptor): string => d.artifactType ?? d.mediaType ?? 'unknown';

/** "2: dev.sigstore.bundle.v0.3, spdx" (the full types are the cell's title) or "–". */
function referrerSummary(referrers: Descriptor[]): string {
  if (referrers.length === 0) return '–';
  const short = (type: string): string => type.replace(/^application\/(vnd\.)?/, '').replace(/\+json$/, '');
  return `${referrers.length}: ${[...new Set(referrers.map((d) => short(artifactTypeOf(d))))].join(', ')}`;
}

/** An ISO time as "2026-12-07 10:29:58 UTC". */
function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function shortDigest(digest: string): string {
  const [alg, hex] = digest.split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : digest;
}

function platformOf(d: Descriptor): string {
  const p = d.platform;
  if (!p) return d.artifactType ?? 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Size (manifest, config and layers), platforms, and creation time of a tag's target. */
async function summarise(name: string, image: FetchedManifest): Promise<{ size?: number; platforms: string[]; created?: string }> {
  const m = image.manifest;
  if (INDEX_TYPES.has(image.mediaType) || m.manifests) {
    const children = (m.manifests ?? []).filter((d) => d.platform?.architecture !== 'unknown');
    return { platforms: children.map(platformOf), size: image.size + children.reduce((s, d) => s + d.size, 0) };
  }
  const size = image.size + (m.config?.size ?? 0) + (m.layers ?? []).reduce((s, d) => s + d.size, 0);
  let config: ImageConfig | undefined;
  if (m.config && m.config.size < 1024 * 1024 && /json/.test(m.config.mediaType ?? '')) config = await getConfig(name, m.config.digest).catch(() => undefined);
  const platform = config ? [config.os, config.architecture].filter(Boolean).join('/') : '';
  return { size, platforms: platform ? [platform] : [], created: config?.created };
}

function pullCommands(name: string, reference: string, byDigest: boolean): HTMLElement {
  const ref = `${location.host}/${name}${byDigest ? '@' : ':'}${reference}`;
  const commands = [`docker pull ${ref}`, `podman pull ${ref}`, `skopeo copy docker://${ref} oci:./image`];
  return el(
    'ul',
    { class: 'commands' },
    ...commands.map((command) => {
      const copy = el('button', { type: 'button', class: 'copy' }, 'Copy');
      copy.addEventListener('click', () => {
        void navigator.clipboard?.writeText(command).then(() => replace(copy, 'Copied'), () => replace(copy, 'Select and copy'));
      });
      return el('li', {}, el('code', {}, command), ' ', copy);
    }),
  );
}

function keyValues(caption: string, entries: Array<[string, string]>): HTMLElement | undefined {
  if (entries.length === 0) return undefined;
  return table(caption, ['key', 'value'], entries.map(([k, v]) => [el('code', {}, k), v]));
}

async function showImage(mine: number, name: string, reference: string): Promise<void> {
  setCrumbs(['Repositories', '#/'], [name, routeHref('r', name)], [reference, undefined]);
  replace(main, status('Loading…'));
  const image = await getManifest(name, reference);
  const referrers = await getReferrers(name, image.digest).catch((err: unknown) => err);
  if (mine !== generation) return;
  const m = image.manifest;
  const byDigest = reference.includes(':');
  const parts: Array<HTMLElement | undefined> = [
    el('h1', {}, `${name}${byDigest ? '@' : ':'}${reference}`),
    el('dl', { class: 'facts' }, el('dt', {}, 'digest'), el('dd', {}, el('code', {}, image.digest)), el('dt', {}, 'media type'), el('dd', {}, image.mediaType || m.mediaType || '–'), el('dt', {}, 'manifest size'), el('dd', {}, humanSize(image.size))),
    el('h2', {}, 'Pull'),
    pullCommands(name, reference, byDigest),
    byDigest ? undefined : pullCommands(name, image.digest, true),
  ];
  if (m.manifests) {
    parts.push(
      el('h2', {}, 'Platforms'),
      table('Manifests of this index', ['platform', 'digest', 'size'], m.manifests.map((d) => [platformOf(d), routeLink(el('code', {}, d.digest), 'r', name, 't', d.digest), humanSize(d.size)])),
    );
  }
  if (m.config) {
    let config: ImageConfig | undefined;
    let failure: unknown;
    if (/json/.test(m.config.mediaType ?? '') && m.config.size < 1024 * 1024) {
      try {
        config = await getConfig(name, m.config.digest);
      } catch (err) {
        failure = err;
      }
    }
    if (mine !== generation) return;
    const c = config?.config;
    parts.push(el('h2', {}, 'Configuration'));
    if (failure !== undefined) parts.push(status(`The image configuration could not be read: ${explain(failure)}`, 'error'));
    parts.push(
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, 'platform'), el('dd', {}, config ? [config.os, config.architecture].filter(Boolean).join('/') || '–' : '–'),
        el('dt', {}, 'created'), el('dd', {}, config?.created ?? '–'),
        el('dt', {}, 'entrypoint'), el('dd', {}, el('code', {}, JSON.stringify(c?.Entrypoint ?? null))),
        el('dt', {}, 'cmd'), el('dd', {}, el('code', {}, JSON.stringify(c?.Cmd ?? null))),
        el('dt', {}, 'config'), el('dd', {}, el('code', {}, m.config.digest)),
      ),
      keyValues('Labels', Object.entries(c?.Labels ?? {})),
      keyValues('Environment', (c?.Env ?? []).map((e) => [e.split('=')[0] ?? e, e.slice(e.indexOf('=') + 1)] as [string, string])),
      config?.history?.length ? table('History', ['created', 'step'], config.history.map((h) => [h.created ?? '', el('code', {}, h.created_by ?? h.comment ?? '')])) : undefined,
    );
  }
  if (m.layers) {
    parts.push(
      el('h2', {}, 'Layers'),
      table(`${m.layers.length} layers, ${humanSize(m.layers.reduce((s, d) => s + d.size, 0))}`, ['media type', 'digest', 'size'], m.layers.map((d) => [d.mediaType ?? '', el('code', {}, d.digest), humanSize(d.size)])),
    );
  }
  parts.push(keyValues('Annotations', Object.entries(m.annotations ?? {})));
  parts.push(
    el('h2', {}, 'Referrers'),
    !Array.isArray(referrers)
      ? status(`Referrers could not be read: ${explain(referrers)}`, 'error')
      : referrers.length === 0
      ? status('No signatures, SBOMs or attestations refer to this manifest.')
      : table('Artifacts that refer to this manifest', ['artifact type', 'digest', 'size'], referrers.map((d) => [d.artifactType ?? d.mediaType ?? '', routeLink(el('code', {}, d.digest), 'r', name, 't', d.digest), humanSize(d.size)])),
  );
  parts.push(deletePanel(name, reference, image.digest));
  replace(main, ...parts);
}

/** Every tag of the repository (up to TAGS_CHECKED_FOR_DELETE) that points at `digest` now. */
async function tagsOn(name: string, digest: string): Promise<{ tags: string[]; complete: boolean }> {
  const all: string[] = [];
  let last: string | undefined;
  do {
    const page = await tagsPage(name, 1000, last);
    all.push(...page.items);
    last = page.next;
  } while (last !== undefined && all.length < TAGS_CHECKED_FOR_DELETE);
  const checked = all.slice(0, TAGS_CHECKED_FOR_DELETE);
  const found: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < checked.length) {
      const tag = checked[next++]!;
      if ((await tagDigest(name, tag)) === digest) found.push(tag);
    }
  };
  await Promise.all(Array.from({ length: DETAILS_AT_ONCE }, worker));
  return { tags: found.sort(), complete: last === undefined && all.length <= TAGS_CHECKED_FOR_DELETE };
}

/**
 * Untag and delete, each saying exactly what goes before it goes: an in-page confirmation names
 * the tags a deletion takes with it, and that space comes back at the next GC pass.
 */
function deletePanel(name: string, reference: string, digest: string): HTMLElement {
  const byDigest = reference.includes(':');
  const panel = el('section', { class: 'danger', 'aria-labelledby': 'delete-heading' }, el('h2', { id: 'delete-heading' }, 'Delete'));
  const area = el('div', { 'aria-live': 'polite' });
  const ask = async (what: 'untag' | 'manifest'): Promise<void> => {
    replace(area, status('Looking for the tags on this manifest…'));
    const on = await tagsOn(name, digest);
    const others = on.tags.filter((t) => t !== reference);
    const more = on.complete ? '' : ` (only the first ${TAGS_CHECKED_FOR_DELETE} tags were looked at)`;
    const lines =
      what === 'untag'
        ? [
            `The tag ${reference} is removed. The manifest ${digest} stays, reachable by its digest${others.length > 0 ? ` and by the tags ${others.join(', ')}` : ''}${more}.`,
            'No space comes back unless nothing else refers to the manifest: then the next garbage-collection pass with deleteuntagged frees it.',
          ]
        : [
            `The manifest ${digest} is removed, and with it ${on.tags.length === 0 ? 'no tag' : `every tag that points at it: ${on.tags.join(', ')}`}${more}.`,
            'Its layers and config stay until the next garbage-collection pass, which frees what no other manifest uses.',
          ];
    const confirm = el('button', { type: 'button', class: 'confirm' }, what === 'untag' ? `Yes, untag ${reference}` : 'Yes, delete the manifest');
    const cancel = el('button', { type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => replace(area));
    confirm.addEventListener('click', () => {
      void (async () => {
        replace(area, status('Deleting…'));
        try {
          await deleteManifest(name, what === 'untag' ? reference : digest);
          replace(area, status(what === 'untag' ? `The tag ${reference} is gone.` : `The manifest ${digest} is gone.`));
          location.hash = routeHref('r', name);
        } catch (err) {
          replace(area, status(explain(err), 'error'));
        }
      })();
    });
    replace(area, el('div', { class: 'confirm-box', role: 'alertdialog', 'aria-label': 'Confirm' }, ...lines.map((l) => el('p', {}, l)), confirm, ' ', cancel));
    confirm.focus();
  };
  const untag = el('button', { type: 'button' }, `Untag ${reference}`);
  untag.addEventListener('click', () => void ask('untag').catch((err: unknown) => replace(area, status(explain(err), 'error'))));
  const remove = el('button', { type: 'button' }, 'Delete the manifest…');
  remove.addEventListener('click', () => void ask('manifest').catch((err: unknown) => replace(area, status(explain(err), 'error'))));
  append(panel, el('div', { class: 'actions' }, byDigest ? undefined : untag, ' ', remove), area);
  return panel;
}

/** Runs a view; an error it throws is shown in its place (unless a newer view took over). */
async function run(view: (generation: number) => Promise<void>): Promise<void> {
  const mine = ++generation;
  try {
    await view(mine);
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && err.status === 401) return showSignIn('Your session ended: sign in again.');
    replace(main, status(explain(err), 'error'));
  }
}

/** Views are shown (signed in, or the registry has no users); else the sign-in form is. */
let signedIn = false;

/** The header's "signed in as … / Sign out". */
function showAccount(who: SignedIn | undefined): void {
  signedIn = who !== undefined;
  if (!who || who.user === null) return replace(account);
  const out = el('button', { type: 'button', class: 'link' }, 'Sign out');
  out.addEventListener('click', () => {
    void signOut().then(
      () => showSignIn(who.by === 'basic' ? 'Signed out of the page. The browser keeps its own Basic credentials until it is closed.' : 'Signed out.'),
      (err: unknown) => replace(main, status(explain(err), 'error')),
    );
  });
  replace(account, el('span', {}, `Signed in as ${who.user}`), ' ', out);
}

/** The sign-in form (the session cookie), with the browser's own Basic dialog as the other way in. */
function showSignIn(message?: string): void {
  ++generation;
  showAccount(undefined);
  setCrumbs(['Sign in', undefined]);
  const form = el('form', { class: 'signin', autocomplete: 'on' });
  const user = el('input', { id: 'signin-user', name: 'username', type: 'text', autocomplete: 'username', required: '', spellcheck: 'false' }) as HTMLInputElement;
  const password = el('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: '' }) as HTMLInputElement;
  const outcome = el('div', { 'aria-live': 'polite' });
  append(
    form,
    el('label', { for: 'signin-user' }, 'User'), user,
    el('label', { for: 'signin-password' }, 'Password'), password,
    el('button', { type: 'submit' }, 'Sign in'),
    outcome,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(outcome, status('Signing in…'));
    void signIn(user.value, password.value)
      .then(async (who) => {
        password.value = '';
        // A Secure cookie is dropped by a browser on plain HTTP (other than localhost): say so, not loop.
        if (!(await whoAmI())) {
          replace(outcome, status('The browser did not keep the session cookie: open this page over HTTPS, or use the browser\'s own dialog below.', 'error'));
          return;
        }
        showAccount(who);
        route();
      })
      .catch((err: unknown) => {
        password.value = '';
        const why = err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : err instanceof ApiError && err.status === 429 ? 'Too many failed sign-ins from here: wait a while and try again.' : explain(err);
        replace(outcome, status(why, 'error'));
        password.focus();
      });
  });
  replace(
    main,
    el('h1', {}, 'Sign in'),
    message ? status(message) : undefined,
    form,
    el('p', {}, 'Or ', el('a', { href: '/ui?login=basic' }, "use the browser's own sign-in dialog"), ' (HTTP Basic, as docker login uses).'),
  );
  user.focus();
}

function route(): void {
  // Each segment was encoded whole (routeHref), so a repository name's own slashes are %2F.
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [kind, name, t, reference] = parts;
  if (kind === 'r' && name) {
    if (t === 't' && reference) return void run((g) => showImage(g, name, reference));
    return void run((g) => showRepository(g, name, 'name', undefined, [undefined]));
  }
  void run((g) => showRepositories(g));
}

window.addEventListener('hashchange', () => {
  if (signedIn) route();
});

/** How often an open page asks who it is: the server renews the cookie past half its life. */
const RENEW_EVERY_MS = 5 * 60_000;

setInterval(() => {
  if (!signedIn || document.hidden) return;
  void whoAmI().then(
    (who) => {
      if (!who && signedIn) showSignIn('Your session ended: sign in again.');
    },
    () => undefined, // unreachable for a moment: the next turn asks again
  );
}, RENEW_EVERY_MS);

void whoAmI().then(
  (who) => {
    if (!who) return showSignIn();
    showAccount(who);
    route();
  },
  (err: unknown) => replace(main, status(explain(err), 'error')),
);
