// Type declarations for the untyped xmpp.js 0.13 packages we use.
// Only what fedgate touches is declared; see node_modules/ltx/lib/Element.js.

declare module '@xmpp/component-core' {
  import { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';

  export type Node = Element | string;
  export type Attrs = Record<string, string | undefined>;

  /** An ltx element. Type only: the constructor is `xml.Element` (component-core exports no `Element`). */
  export interface Element {
    name: string;
    attrs: Attrs;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    c(name: string, attrs?: Attrs | null): Element;
    t(text: string): Element;
    up(): Element;
    root(): Element;
    append(...nodes: Node[]): Element;
    remove(el: Element | string, xmlns?: string): Element;
    toString(): string;
  }

  export interface XmlFactory {
    (name: string, attrs?: Record<string, string | number | boolean | undefined | null> | null, ...children: unknown[]): Element;
    Element: new (name: string, attrs?: Attrs | null) => Element;
    Parser: new () => EventEmitter & { write(data: string): void; end(data?: string): void };
    escapeXML(s: string): string;
    escapeXMLText(s: string): string;
  }
  export const xml: XmlFactory;

  export interface ComponentOptions {
    service: string;
    domain: string;
  }

  /** @xmpp/component-core's Component: TCP connection + XEP-0114 handshake, no middleware. */
  export class Component extends EventEmitter {
    constructor(options: ComponentOptions);
    options: ComponentOptions;
    status: string;
    timeout: number;
    /** The class each new stream's parser is made from (xmpp.js's connection reads it at every open). */
    Parser: XmlFactory['Parser'];
    socket: Socket | null;
    jid: { toString(): string } | null;
    root: Element | null;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    connect(service: string): Promise<unknown>;
    open(options: { domain: string }): Promise<unknown>;
    authenticate(id: string, password: string): Promise<void>;
    send(el: Element): Promise<void>;
    write(s: string): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
  }
}

declare module '@xmpp/component' {
  import type { Element, Component as Core } from '@xmpp/component-core';
  export { xml } from '@xmpp/component-core';
  export type { Element } from '@xmpp/component-core';
  export interface XmppComponent extends Core {
    iqCallee: { get(ns: string, name: string, handler: (ctx: { stanza: Element }) => unknown): void; set(ns: string, name: string, handler: (ctx: { stanza: Element }) => unknown): void };
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    reconnect: { stop(): void; delay: number };
  }
  export function component(options: { service: string; domain: string; password: string }): XmppComponent;
}

declare module '@xmpp/client';

declare module '@breejs/later' {
  interface CronParse {
    error: number | undefined;
  }
  interface Later {
    parse: { cron(expr: string, hasSeconds?: boolean): CronParse };
    schedule(s: CronParse): { next(count: number, start?: Date): Date | Date[] | 0 };
    date: { UTC(): void; localTime(): void };
  }
  const later: Later;
  export default later;
}
