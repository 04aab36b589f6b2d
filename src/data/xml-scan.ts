/**
 * A small, strict, streaming XML scanner: reports start and end tags with their attributes and
 * checks well-formedness (nesting, one root, quoting, names, duplicate attributes), ignoring text,
 * comments, CDATA, processing instructions and a DOCTYPE. It exists because a generic parser
 * builds a whole object tree and takes about 0.5 s on a 4 MB MoNuSeg XML, where scanning takes a
 * few tens of ms. Entities in attribute values are decoded (the five predefined ones and numeric
 * references); DTD-defined entities are not supported.
 * Complexity: O(length of the text), one pass; no tree is built.
 */

export interface XmlAttributes {
  /** Number of attributes of the current tag; names[i] / value(i) for i < count. */
  count: number;
  names: string[];
  /** Decoded value of attribute i. */
  value(i: number): string;
  /** Decoded value of the attribute called `name`, or undefined. */
  get(name: string): string | undefined;
}

export interface XmlHandler {
  /** A start tag (or empty-element tag, then `close` follows at once). `depth` is 0 for the root. */
  open(name: string, attrs: XmlAttributes, depth: number): void;
  close(name: string, depth: number): void;
}

/** Thrown for text that is not well-formed XML; offset is 0-based into the text. */
export class XmlSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(text: string, offset: number, problem: string) {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    const column = offset - lineStart + 1;
    super(`line ${line}, column ${column}: ${problem}`);
    this.name = 'XmlSyntaxError';
    this.line = line;
    this.column = column;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(raw: string, text: string, offset: number): string {
  return raw.replace(/&([^;&]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new XmlSyntaxError(text, offset, `unterminated entity reference '${m}'`);
    if (body.startsWith('#x') || body.startsWith('#X')) {
      const cp = Number.parseInt(body.slice(2), 16);
      if (/^#[xX][0-9a-fA-F]+$/.test(body) && cp <= 0x10ffff) return String.fromCodePoint(cp);
    } else if (body.startsWith('#')) {
      const cp = Number(body.slice(1));
      if (/^#\d+$/.test(body) && cp <= 0x10ffff) return String.fromCodePoint(cp);
    } else if (body in ENTITIES) {
      return ENTITIES[body]!;
    }
    throw new XmlSyntaxError(text, offset, `unknown entity '&${body};'`);
  });
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58 || c >= 128;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46;
}

/** Scans `text`, calling `handler` for each tag in document order; throws XmlSyntaxError. */
export function scanXml(text: string, handler: XmlHandler): void {
  const n = text.length;
  const stack: string[] = [];
  const names: string[] = [];
  const rawValues: string[] = [];
  const valueOffsets: number[] = [];
  const attrs: XmlAttributes = {
    count: 0,
    names,
    value(i: number): string {
      const raw = rawValues[i]!;
      return raw.includes('&') ? decodeEntities(raw, text, valueOffsets[i]!) : raw;
    },
    get(name: string): string | undefined {
      for (let i = 0; i < this.count; i++) if (names[i] === name) return this.value(i);
      return undefined;
    },
  };
  let sawRoot = false;
  let nextAmp = text.indexOf('&');
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (at: number, problem: string): never => {
    // A file cut short fails wherever the cut lands; say so, whatever was expected there.
    if (at >= n && !problem.startsWith('unexpected end of file'))
      problem = `unexpected end of file (${problem})`;
    throw new XmlSyntaxError(text, at, problem);
  };
  const readName = (at: number): number => {
    if (at >= n || !isNameStart(text.charCodeAt(at))) fail(at, 'expected a name');
    let j = at + 1;
    while (j < n && isNameChar(text.charCodeAt(j))) j++;
    return j;
  };
  const skipTo = (at: number, end: string, what: string): number => {
    const j = text.indexOf(end, at);
    if (j < 0) fail(at, `unterminated ${what}`);
    return j + end.length;
  };
  while (i < n) {
    const lt = text.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (stack.length === 0) {
      // Outside the root only whitespace may appear.
      for (let k = i; k < textEnd; k++) {
        if (!isSpace(text.charCodeAt(k)))
          fail(k, sawRoot ? 'text after the root element' : 'text before the root element');
      }
    } else {
      // Cache the next '&': searching afresh from every tag would make the scan quadratic.
      if (nextAmp >= 0 && nextAmp < i) nextAmp = text.indexOf('&', i);
      if (nextAmp >= 0 && nextAmp < textEnd) decodeEntities(text.slice(i, textEnd), text, i);
    }
    if (lt < 0) break;
    i = lt;
    const c1 = text.charCodeAt(i + 1);
    if (c1 === 33 /* ! */) {
      if (text.startsWith('<!--', i)) i = skipTo(i + 4, '-->', 'comment');
      else if (text.startsWith('<![CDATA[', i)) {
        if (stack.length === 0) fail(i, 'CDATA outside the root element');
        i = skipTo(i + 9, ']]>', 'CDATA section');
      } else if (text.startsWith('<!DOCTYPE', i)) {
        if (sawRoot) fail(i, 'DOCTYPE after the root element');
        let depth = 0;
        let j = i + 9;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === 91) depth++;
          else if (c === 93) depth--;
          else if (c === 62 && depth === 0) break;
        }
        if (j >= n) fail(i, 'unterminated DOCTYPE');
        i = j + 1;
      } else fail(i, "unexpected '<!'");
    } else if (c1 === 63 /* ? */) {
      i = skipTo(i + 2, '?>', 'processing instruction');
    } else if (c1 === 47 /* / */) {
      const nameEnd = readName(i + 2);
      const name = text.slice(i + 2, nameEnd);
      let j = nameEnd;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 62) fail(j, `expected '>' to end </${name}`);
      const open = stack.pop();
      if (open === undefined) fail(i, `end tag </${name}> without a start tag`);
      if (open !== name) fail(i, `end tag </${name}> does not match <${open}>`);
      handler.close(name, stack.length);
      i = j + 1;
    } else {
      if (stack.length === 0 && sawRoot) fail(i, 'a second root element');
      const nameEnd = readName(i + 1);
      const name = text.slice(i + 1, nameEnd);
      let j = nameEnd;
      let count = 0;
      for (;;) {
        const before = j;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (j >= n) fail(j, `unexpected end of file in the start tag <${name}`);
        const c = text.charCodeAt(j);
        if (c === 62 || (c === 47 && text.charCodeAt(j + 1) === 62)) break;
        if (c === 47)
          fail(
            j,
            j + 1 >= n
              ? `unexpected end of file in the start tag <${name}`
              : `expected '>' after '/' in <${name}`,
          );
        if (j === before) fail(j, `expected whitespace before an attribute in <${name}`);
        const an = readName(j);
        const attrName = text.slice(j, an);
        j = an;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 61) fail(j, `expected '=' after attribute ${attrName} in <${name}`);
        j++;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        const q = text.charCodeAt(j);
        if (q !== 34 && q !== 39) fail(j, `attribute ${attrName} in <${name}: value must be quoted`);
        const close = text.indexOf(q === 34 ? '"' : "'", j + 1);
        if (close < 0) fail(n, `unexpected end of file in attribute ${attrName} of <${name}`);
        const raw = text.slice(j + 1, close);
        if (raw.includes('<')) fail(j, `attribute ${attrName} in <${name}: '<' in value`);
        for (let k = 0; k < count; k++) {
          if (names[k] === attrName) fail(j, `duplicate attribute ${attrName} in <${name}`);
        }
        names[count] = attrName;
        rawValues[count] = raw;
        valueOffsets[count] = j;
        count++;
        j = close + 1;
      }
      attrs.count = count;
      const selfClosing = text.charCodeAt(j) === 47;
      handler.open(name, attrs, stack.length);
      sawRoot = true;
      if (selfClosing) {
        handler.close(name, stack.length);
        i = j + 2;
      } else {
        stack.push(name);
        i = j + 1;
      }
    }
  }
  if (stack.length > 0) fail(n, `unexpected end of file: <${stack[stack.length - 1]}> is not closed`);
  if (!sawRoot) fail(n, 'no root element');
}
