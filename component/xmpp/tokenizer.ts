/**
 * The link's XML tokenizer: ltx's (ltx 3.1.2, lib/parsers/ltx.js, MIT licence), made linear in what
 * it reads. ltx's cost grows with a long token's length times the chunk's, and with its length squared
 * when the token spans chunks, and one stanza from a stranger held the XMPP thread for seconds (sixth
 * hostile campaign: a 15 MiB text, 12 s without any answer; `npm run bench:tokenizer`: ~0.4 s per MiB):
 * - where a text, an attribute value or a comment does not end within a chunk, ltx searched for its
 *   end again from every following character of the chunk: it now goes to the chunk's end at once;
 * - a token (text, tag) spanning chunks was copied whole again at every chunk: its pieces are kept
 *   and joined once, when it ends.
 * Otherwise the same events, states and entity handling (ltx's own unescapeXML) as the original; and
 * an end cut between two chunks (`]]>` of a CDATA section, `-->`, `?>`) is still found, which ltx missed.
 */

/*
 * ltx's licence, for the parts copied from it:
 *
 * Copyright (c) 2010 Stephan Maka
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to deal
 * in the Software without restriction, including without limitation the rights
 * to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 * copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 * OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 * THE SOFTWARE.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

const { unescapeXML } = createRequire(import.meta.url)('ltx/lib/escape.js') as { unescapeXML(s: string): string };

const enum State {
  Text,
  IgnoreComment,
  IgnoreInstruction,
  TagName,
  Tag,
  AttrName,
  AttrEq,
  AttrQuot,
  AttrValue,
  Cdata,
  IgnoreCdata,
}

/** Emits `startElement` (name, attrs), `endElement` (name, selfClosing) and `text` (unescaped), as ltx's SaxLtx. */
export class LinearTokenizer extends EventEmitter {
  private state = State.Text;
  /** Where the token being recorded starts in the current chunk (undefined: nothing recorded). */
  private recordStart: number | undefined = 0;
  /** The recorded token's earlier pieces, from previous chunks. */
  private pieces: string[] = [];
  /** Undecided characters carried to the next chunk and read again there (a `]` or `<!` at a chunk's end). */
  private carry = '';
  private tagName: string | undefined;
  private attrs: Record<string, string> | undefined;
  private attrName: string | undefined;
  private endTag = false;
  private selfClosing = false;
  private attrQuote = 0;
  private attrQuoteChar = '"';

  write(chunk: string | Buffer): void {
    let data = typeof chunk === 'string' ? chunk : chunk.toString();
    if (this.carry) {
      data = this.carry + data;
      this.carry = '';
    }
    let pos = 0;
    const endRecording = (): string | undefined => {
      if (this.recordStart === undefined) return undefined;
      const last = data.slice(this.recordStart, pos);
      const recorded = this.pieces.length > 0 ? this.pieces.join('') + last : last;
      this.pieces = [];
      this.recordStart = undefined;
      return recorded;
    };
    // The chunk ends on characters that cannot be decided yet: what is recorded before them is kept,
    // and they are read again, with what follows, at the next write.
    const undecided = (): void => {
      if (this.recordStart !== undefined && this.recordStart < pos) {
        this.pieces.push(data.slice(this.recordStart, pos));
        this.recordStart = 0;
      }
      this.carry = data.slice(pos);
      pos = data.length;
    };

    for (; pos < data.length; pos++) {
      switch (this.state) {
        case State.Text: {
          // Straight to the next '<', or to the chunk's end when there is none in it.
          const lt = data.indexOf('<', pos);
          pos = lt === -1 ? data.length - 1 : lt;
          break;
        }
        case State.AttrValue: {
          const quot = data.indexOf(this.attrQuoteChar, pos);
          pos = quot === -1 ? data.length - 1 : quot;
          break;
        }
        case State.IgnoreComment:
        case State.IgnoreInstruction: {
          const close = this.state === State.IgnoreComment ? '-->' : '?>';
          const end = data.indexOf(close, pos);
          if (end === -1) {
            // Skipped to the chunk's end, but for the characters that may begin the end of it.
            this.carry = data.slice(Math.max(pos, data.length - close.length + 1));
            pos = data.length;
            continue;
          }
          pos = end + close.length - 1; // the '>'
          break;
        }
        case State.IgnoreCdata: {
          const end = data.indexOf(']]>', pos);
          if (end !== -1) pos = end + 2;
          break;
        }
      }

      const c = data.charCodeAt(pos);
      switch (this.state) {
        case State.Text:
          if (c === 60 /* < */) {
            const text = endRecording();
            if (text) this.emit('text', unescapeXML(text));
            this.state = State.TagName;
            this.recordStart = pos + 1;
            this.attrs = {};
          }
          break;
        case State.Cdata:
          if (c === 93 /* ] */) {
            if (data.substr(pos + 1, 2) === ']>') {
              const cdata = endRecording();
              if (cdata) this.emit('text', cdata);
              this.state = State.Text;
            } else if (data.length < pos + 3) {
              undecided();
            }
          }
          break;
        case State.TagName:
          if (c === 47 /* / */ && this.recordStart === pos && this.pieces.length === 0) {
            this.recordStart = pos + 1;
            this.endTag = true;
          } else if (c === 33 /* ! */) {
            if (data.substr(pos + 1, 7) === '[CDATA[') {
              this.pieces = [];
              this.recordStart = pos + 8;
              this.state = State.Cdata;
            } else if (data.length < pos + 8 && '[CDATA['.startsWith(data.slice(pos + 1))) {
              // Maybe a CDATA section, but the chunk ends: the next write decides.
              undecided();
            } else {
              this.pieces = [];
              this.recordStart = undefined;
              this.state = State.IgnoreComment;
            }
          } else if (c === 63 /* ? */) {
            this.pieces = [];
            this.recordStart = undefined;
            this.state = State.IgnoreInstruction;
          } else if (c <= 32 || c === 47 /* / */ || c === 62 /* > */) {
            this.tagName = endRecording();
            pos--;
            this.state = State.Tag;
          }
          break;
        case State.IgnoreComment:
          if (c === 62 /* > */) {
            const prevFirst = data.charCodeAt(pos - 1);
            const prevSecond = data.charCodeAt(pos - 2);
            if ((prevFirst === 45 && prevSecond === 45) /* -- */ || (prevFirst === 93 && prevSecond === 93) /* ]] */) {
              this.state = State.Text;
            }
          }
          break;
        case State.IgnoreInstruction:
          if (c === 62 /* > */ && data.charCodeAt(pos - 1) === 63 /* ? */) this.state = State.Text;
          break;
        case State.Tag:
          if (c === 62 /* > */) {
            this.tagOpening();
            this.state = State.Text;
            this.recordStart = pos + 1;
          } else if (c === 47 /* / */) {
            this.selfClosing = true;
          } else if (c > 32) {
            this.recordStart = pos;
            this.state = State.AttrName;
          }
          break;
        case State.AttrName:
          if (c <= 32 || c === 61 /* = */) {
            this.attrName = endRecording();
            pos--;
            this.state = State.AttrEq;
          }
          break;
        case State.AttrEq:
          if (c === 61 /* = */) this.state = State.AttrQuot;
          break;
        case State.AttrQuot:
          if (c === 34 /* " */ || c === 39 /* ' */) {
            this.attrQuote = c;
            this.attrQuoteChar = c === 34 ? '"' : "'";
            this.state = State.AttrValue;
            this.recordStart = pos + 1;
          }
          break;
        case State.AttrValue:
          if (c === this.attrQuote) {
            this.attrs![this.attrName!] = unescapeXML(endRecording()!);
            this.attrName = undefined;
            this.state = State.Tag;
          }
          break;
      }
    }

    // A token not ended in this chunk: its piece is kept, not copied again with every chunk after.
    if (this.recordStart !== undefined && this.recordStart < data.length && !this.carry) {
      this.pieces.push(data.slice(this.recordStart));
    }
    if (this.recordStart !== undefined) this.recordStart = 0;
  }

  end(data?: string | Buffer): void {
    if (data) this.write(data);
    this.write = () => {};
  }

  private tagOpening(): void {
    if (!this.endTag) {
      this.emit('startElement', this.tagName, this.attrs);
      if (this.selfClosing) this.emit('endElement', this.tagName, true);
    } else {
      this.emit('endElement', this.tagName, false);
    }
    this.tagName = undefined;
    this.attrs = undefined;
    this.endTag = false;
    this.selfClosing = false;
  }
}
