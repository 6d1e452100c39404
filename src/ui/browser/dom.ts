// Building the page from data pushers wrote (names, labels, annotations): only ever as text nodes
// and attribute values set one by one, never as markup, so nothing in an image can become HTML or
// script. There is no innerHTML anywhere in the page's code.

type Child = Node | string | number | undefined | null | false;

/** An element with attributes (set with setAttribute, one by one) and children (strings become text). */
export function el(tag: string, attributes: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) node.setAttribute(name, value);
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces everything in `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A link inside the page (hash routes), built from path segments that are each encoded. */
export function routeLink(text: Child, ...segments: string[]): HTMLElement {
  return el('a', { href: routeHref(...segments) }, text);
}

export function routeHref(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join('/')}`;
}

/** 1536 → "1.5 KiB". */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A table with a header row; each row is a list of cells. */
export function table(caption: string, headers: string[], rows: Child[][]): HTMLElement {
  return el(
    'table',
    {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c))))),
  );
}
