// The one way the page makes elements: text always goes in as text nodes, attributes through
// setAttribute with event-handler and style attributes refused, links only to this page or to
// https. No HTML string is ever parsed, so a process name like <img onerror=...> stays text.

export type Child = Node | string | number | null | undefined | false;

export interface Props {
  readonly className?: string;
  readonly id?: string;
  /** Attributes other than on* handlers, style and href (see `link`). */
  readonly attrs?: Readonly<Record<string, string>>;
}

const REFUSED_ATTRIBUTE = /^(on|style$|href$|src$|srcdoc$|formaction$|xlink:href$)/i;

function setAttributes(e: Element, props: Props): void {
  if (props.className !== undefined) e.setAttribute('class', props.className);
  if (props.id !== undefined) e.id = props.id;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (REFUSED_ATTRIBUTE.test(name)) throw new Error(`attribute ${name} is not set through the builder`);
    e.setAttribute(name, value);
  }
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** An HTML element with props and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  setAttributes(e, props);
  append(e, children);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (for the timeline). */
export function svg(tag: string, attrs: Readonly<Record<string, string | number>>, ...children: Child[]): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (REFUSED_ATTRIBUTE.test(name)) throw new Error(`attribute ${name} is not set through the builder`);
    e.setAttribute(name, String(value));
  }
  append(e, children);
  return e;
}

/**
 * A link: `#...` within the page, or an absolute https URL (opened without referrer or opener).
 * Anything else (javascript:, data:, http:) is shown as text, not linked.
 */
export function link(href: string, props: Props, ...children: Child[]): HTMLAnchorElement | HTMLSpanElement {
  let safe: string | undefined;
  if (href.startsWith('#')) safe = href;
  else {
    try {
      const u = new URL(href);
      if (u.protocol === 'https:' && u.username === '' && u.password === '') safe = u.href;
    } catch {
      safe = undefined;
    }
  }
  if (safe === undefined) return h('span', props, ...children);
  const a = h('a', props, ...children);
  a.href = safe;
  if (!safe.startsWith('#')) a.rel = 'noopener noreferrer';
  return a;
}

/** Removes every child of `e` and appends `children`. */
export function replaceChildren(e: Element, ...children: Child[]): void {
  e.replaceChildren();
  append(e, children);
}

/** The element with this id, of this type; throws when the page is not the shell it expects. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return e;
}
