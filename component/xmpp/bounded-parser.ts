/**
 * The link's XML parser, bounded: what one stanza can cost the XMPP thread no longer depends on the
 * sender. xmpp.js builds every stanza as a tree of ltx elements, about sixty times its size in memory,
 * and neither ejabberd's component listener nor xmpp.js limits what comes in: one 90 MB stanza from a
 * stranger ended the process (out of memory), a 60 MB one held the thread 23 s.
 *
 * - A stanza whose content passes `maxStanzaBytes` (names, attributes and text, counted as they are
 *   parsed), or nests deeper than `maxDepth`, stops being built there: what was built is dropped, the
 *   rest is read and thrown away, and the stanza is handed on as its bare start tag, marked
 *   (`oversizedReason`), so that the link can answer it with an error instead of handling it.
 * - A single token (one text, one tag) longer than `maxTokenBytes` has no legitimate use and would
 *   have to be held whole before anything sees it: `onOverflow` is called (the link drops the
 *   connection and reconnects) and nothing more is parsed. Not a parser error: xmpp.js detaches its
 *   parser on one, and the next chunk of the same socket then threw out of its data handler.
 * - Tokens are read by our LinearTokenizer, not ltx's, whose cost for a long token grows far faster
 *   than its length (tokenizer.ts, npm run bench:tokenizer).
 */
import { xml, type Element } from './xml.js';
import { LinearTokenizer } from './tokenizer.js';

export interface InboundLimits {
  maxStanzaBytes: number;
  maxDepth: number;
  maxTokenBytes: number;
}

/**
 * Serialising, digesting and logging a stanza recurse: 3,000 nested elements (21 KB) overflowed the
 * stack and stopped the gateway. Quoalise needs 5 levels below the stanza; extensions rarely 10.
 */
export const MAX_STANZA_DEPTH = 64;

/** The limits for `link.max_inbound_stanza_bytes`: its size, MAX_STANZA_DEPTH, and a token of at most twice the size. */
export function inboundLimits(maxStanzaBytes: number): InboundLimits {
  return { maxStanzaBytes, maxDepth: MAX_STANZA_DEPTH, maxTokenBytes: 2 * maxStanzaBytes };
}

/** The stanza's own attributes kept when it is cut short (what an error answer needs), each at most this long. */
const KEPT_ATTRS = ['id', 'from', 'to', 'type', 'xmlns'];
const MAX_KEPT_ATTR = 3072;

const oversized = new WeakMap<Element, string>();

/** Why this stanza was not built whole (too large, too deep), or undefined when it was. */
export function oversizedReason(el: Element): string | undefined {
  return oversized.get(el);
}

/** What this module uses of @xmpp/xml's Parser (lib/Parser.js). */
interface ParserInternals {
  root: Element | null;
  cursor: Element | null;
  onStartElement(name: string, attrs: Record<string, string>): void;
  onEndElement(name: string): void;
  onText(text: string): void;
  write(data: string | Buffer): void;
  /** The tokenizer whose events build the tree (ltx's SaxLtx, set by the base constructor). */
  parser: { write(data: string | Buffer): void };
}

/** A Parser class for xmpp.js's connection (`conn.Parser`), enforcing `limits`. */
export function boundedParser(limits: InboundLimits, onOverflow: (why: string) => void): typeof xml.Parser {
  const Base = xml.Parser as unknown as new () => ParserInternals;
  const tooLarge = `larger than ${limits.maxStanzaBytes} bytes (link.max_inbound_stanza_bytes)`;
  class BoundedParser extends Base {
    /** 0 between stanzas, 1 for a stanza's own element. */
    private depth = 0;
    private size = 0;
    private stanza: Element | null = null;
    private cut: string | null = null;
    /** Elements opened inside a cut stanza and not built. */
    private skipped = 0;
    /** Bytes written since the parser last reported anything: the length of the token being read. */
    private sinceEvent = 0;
    private overflowed = false;

    constructor() {
      super();
      // Wired as @xmpp/xml's Parser wires ltx's tokenizer, which this one replaces.
      const tokenizer = new LinearTokenizer();
      tokenizer.on('startElement', this.onStartElement.bind(this));
      tokenizer.on('endElement', this.onEndElement.bind(this));
      tokenizer.on('text', this.onText.bind(this));
      this.parser = tokenizer;
    }

    override onStartElement(name: string, attrs: Record<string, string>): void {
      this.sinceEvent = 0;
      if (!this.root) return super.onStartElement(name, attrs); // the stream header
      this.depth++;
      if (this.depth === 1) {
        this.size = 0;
        this.cut = null;
        this.skipped = 0;
      }
      if (this.cut !== null) {
        this.skipped++;
        return;
      }
      this.size += 2 * name.length + 5;
      for (const k in attrs) this.size += k.length + (attrs[k]?.length ?? 0) + 4;
      const why = this.depth > limits.maxDepth ? `nested deeper than ${limits.maxDepth} elements` : this.size > limits.maxStanzaBytes ? tooLarge : null;
      if (why === null) {
        super.onStartElement(name, attrs);
        if (this.depth === 1) this.stanza = this.cursor;
        return;
      }
      if (this.depth === 1) {
        // Its own tag is too large: keep what an answer needs.
        const kept: Record<string, string> = {};
        for (const k of KEPT_ATTRS) if (attrs[k] !== undefined) kept[k] = attrs[k]!.slice(0, MAX_KEPT_ATTR);
        super.onStartElement(name, kept);
        this.stanza = this.cursor;
      } else {
        this.skipped++;
      }
      this.cutShort(why);
    }

    override onEndElement(name: string): void {
      this.sinceEvent = 0;
      if (this.depth === 0) return super.onEndElement(name); // the stream's end
      this.depth--;
      if (this.skipped > 0) {
        this.skipped--;
        return;
      }
      super.onEndElement(name);
    }

    override onText(text: string): void {
      this.sinceEvent = 0;
      if (this.depth > 0) {
        if (this.cut !== null) return;
        this.size += text.length;
        if (this.size > limits.maxStanzaBytes) return this.cutShort(tooLarge);
      }
      super.onText(text);
    }

    override write(data: string | Buffer): void {
      if (this.overflowed) return;
      this.sinceEvent += data.length;
      if (this.sinceEvent > limits.maxTokenBytes) {
        this.overflowed = true;
        onOverflow(`a single XML token longer than ${limits.maxTokenBytes} bytes`);
        return;
      }
      super.write(data);
    }

    private cutShort(why: string): void {
      this.cut = why;
      const stanza = this.stanza!;
      oversized.set(stanza, why);
      // What was built is garbage now; the elements still open above the cursor close normally.
      stanza.children = [];
    }
  }
  return BoundedParser as unknown as typeof xml.Parser;
}
