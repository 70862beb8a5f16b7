/** A small reader of well-formed XML, enough for Yahoo's responses: elements, text and entities. */

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

export function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((child) => localName(child.name) === name)?.text.trim();
}

export function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

/**
 * A minimal XML reader: enough for Yahoo's responses (elements, text, entities, CDATA,
 * comments, the declaration). Attributes are read past but not kept: Yahoo only puts
 * `count` and namespaces there. Returns null for anything that is not one well-formed root.
 */
export function readXml(xml: string): XmlElement | null {
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([^\s>]+)\s*>|<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(\/?)>|([^<]+)|(<)/g;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  for (const match of xml.matchAll(token)) {
    const [, cdata, closing, opening, selfClosing, text, stray] = match;
    const current = stack.at(-1);
    if (stray !== undefined) return null;
    if (cdata !== undefined || text !== undefined) {
      const content = cdata ?? decodeEntities(text ?? '');
      if (current !== undefined) current.text += content;
      else if (content.trim() !== '') return null;
    } else if (opening !== undefined) {
      if (current === undefined && root !== null) return null;
      const element: XmlElement = { name: opening, children: [], text: '' };
      if (current !== undefined) current.children.push(element);
      else root = element;
      if (selfClosing !== '/') stack.push(element);
    } else if (closing !== undefined) {
      if (current?.name !== closing) return null;
      stack.pop();
    }
  }
  return stack.length === 0 ? root : null;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (entity, name: string) => {
    if (name.startsWith('#')) {
      const codePoint = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : entity;
    }
    return Object.hasOwn(NAMED_ENTITIES, name) ? (NAMED_ENTITIES[name] ?? entity) : entity;
  });
}
