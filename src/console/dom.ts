/**
 * The few DOM and formatting helpers every console panel uses: element builders for HTML (`h`)
 * and SVG (`s`), a lookup that fails loudly when the page lacks an element, and time/id formats.
 */

type Child = Node | string | null | undefined | false;

/** An HTML element with attributes (`undefined`/`false` leave one out) and children (falsy ones skipped). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children)
    if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element (it must be created in the SVG namespace to render). */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** An identifier as the explorer shows it: whole, selectable, highlighted when it is what was searched for. */
export function idCell(value: string | null, query: string, testId?: string): HTMLElement {
  if (!value) return h('span', { class: 'muted' }, '—');
  return h(
    'code',
    { class: `id-value ${value === query ? 'hit' : ''}`, title: value, 'data-testid': testId },
    value,
  );
}

/** A labelled identifier (`CallLegId  3f2a…`), one per line in the explorer's identifier cells. */
export function idLine(label: string, value: string | null, query: string, testId?: string): HTMLElement {
  return h(
    'div',
    { class: 'id-line' },
    h('span', { class: 'id-label' }, label),
    idCell(value, query, testId),
  );
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`console: #${id} is missing from the page`);
  return element as T;
}

/** Show `message` in an error line, or hide the line when `message` is null. */
export function showError(element: HTMLElement, message: string | null): void {
  element.textContent = message ?? '';
  element.hidden = message === null;
}

export function errorText(error: unknown): string {
  return String(error instanceof Error ? error.message : error);
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** Wall-clock time to the millisecond: the explorer compares events a few ms apart. */
export function clock(ms: number | string | null): string {
  if (ms === null) return '—';
  const date = new Date(ms);
  return `${timeFormat.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

export function shortId(id: string, keep = 8): string {
  return id.length > keep + 6 ? `${id.slice(0, keep)}…${id.slice(-4)}` : id;
}
