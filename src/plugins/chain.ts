// The plugins of one server block at run time, in CoreDNS's plugin.cfg order:
//   bufsize → dns64 → loadbalance → rewrite → cache → template → hosts → forward → whoami
// The pipeline calls enter() once per query when the block has plugins (bufsize and rewrite
// change the query; dns64, loadbalance and rewrite's reverter change replies, so they wrap the
// reply channel); the block's miss path calls answerLocally() before forwarding (template, hosts,
// cached like upstream answers); whoami answers where forward does not.
import type { PluginsConfig } from '../config/types.js';
import { keyToName, parseQuery, type ParsedQuery } from '../dns/query.js';
import { analyzeReply, clientLimit, renderReply, toTemplate, type ReplyAnalysis, type ReplyTemplate } from '../dns/reply.js';
import { RCODE } from '../dns/constants.js';
import type { ReplyChannel } from '../server/pipeline.js';
import { capPayload } from './bufsize.js';
import { roundRobin } from './loadbalance.js';
import { RewriteHandler, revertReply, rewriteQuery, type RewriteResult } from './rewrite.js';
import { TemplateHandler } from './template.js';
import { HostsHandler } from './hosts.js';
import { localQuestion, type LocalAnswerer } from './local-answer.js';
import { whoamiReply } from './whoami.js';
import { Dns64 } from './dns64.js';

/** Where a plugin sends a query through the whole block again (dns64's A lookup): the pipeline. */
export interface QueryServer {
  handle<P>(msg: Buffer, channel: ReplyChannel<P>, peer: P): void;
}

/** The query as the rest of the chain sees it; rcode != 0: answer with that error instead. */
export interface Entered<P> {
  readonly msg: Buffer;
  readonly query: ParsedQuery;
  readonly channel: ReplyChannel<P>;
  readonly rcode: number;
}

/** What answerLocally returns: the same shape as a forwarder result, so the miss path treats both alike. */
export type LocalResult = { readonly ok: true; readonly reply: Buffer; readonly analysis: ReplyAnalysis } | { readonly ok: false; readonly detail: string };

export class BlockPlugins {
  readonly template: TemplateHandler | null;
  readonly hosts: HostsHandler | null;
  private readonly rewrite: RewriteHandler | null;
  private readonly dns64: Dns64 | null;
  private readonly local: readonly LocalAnswerer[];
  /** template or hosts: misses are answered here before forward (even without forward). */
  readonly answersLocally: boolean;
  readonly whoami: boolean;

  constructor(readonly config: PluginsConfig) {
    this.template = config.template.length > 0 ? new TemplateHandler(config.template) : null;
    this.hosts = config.hosts ? new HostsHandler(config.hosts) : null;
    this.rewrite = config.rewrite.length > 0 ? new RewriteHandler(config.rewrite) : null;
    this.dns64 = config.dns64 ? new Dns64(config.dns64) : null;
    this.local = [this.template, this.hosts].filter((h): h is TemplateHandler | HostsHandler => h !== null);
    this.answersLocally = this.local.length > 0;
    this.whoami = config.whoami;
  }

  /** bufsize and rewrite on the query; dns64, loadbalance and rewrite's reverter on the replies. Null: nothing changes. */
  enter<P>(msg: Buffer, query: ParsedQuery, channel: ReplyChannel<P>, server: QueryServer): Entered<P> | null {
    let m = msg;
    let q = query;
    let rewritten: RewriteResult | null = null;
    if (this.rewrite) {
      rewritten = this.rewrite.rewrite(keyToName(q.key), q.qtype, q.qclass);
      if (rewritten) {
        const next = rewriteQuery(m, q.questionEnd, rewritten.name, rewritten.qtype, rewritten.qclass);
        const parsed = next && parseQuery(next);
        // CoreDNS: "invalid name after rewrite" is SERVFAIL.
        if (!next || !parsed || !parsed.ok) return { msg, query, channel, rcode: RCODE.SERVFAIL };
        m = next;
        q = parsed.query;
      }
    }
    if (this.config.bufsize !== null) {
      const capped = capPayload(m, q, this.config.bufsize);
      if (capped) {
        m = capped.msg;
        q = capped.query;
      }
    }
    const revert = rewritten?.revert ? rewritten : null;
    const dns64 = this.dns64?.intercepts(query.qtype, query.qclass, channel.familyIndex === 1) ? this.dns64 : null;
    const balance = this.config.loadbalance;
    if (!revert && !balance && !dns64) return m === msg ? null : { msg: m, query: q, channel, rcode: 0 };
    const wrapped: ReplyChannel<P> = {
      tcp: channel.tcp,
      familyIndex: channel.familyIndex,
      router: channel.router,
      discard: (peer) => channel.discard(peer),
      remote: (peer) => channel.remote(peer),
      send: (reply, peer) => {
        let out = revert ? fit(revertReply(reply, msg, revert), msg, query, channel.tcp) : reply;
        if (balance) out = roundRobin(out);
        if (dns64 && dns64.wants(out)) synthesizeAaaa(dns64, out, msg, query, channel, peer, server);
        else channel.send(out, peer);
      },
    };
    return { msg: m, query: q, channel: wrapped, rcode: 0 };
  }

  /** template, then hosts: a local reply, a failure (SERVFAIL), or null to forward. */
  answerLocally(query: Buffer): LocalResult | null {
    const q = localQuestion(query);
    if (!q) return null;
    for (const handler of this.local) {
      const a = handler.answer(q);
      if (a === null) continue;
      const analysis = a.reply && analyzeReply(a.reply);
      if (!a.reply || !analysis) return { ok: false, detail: a.error ?? `${handler === this.template ? 'template' : 'hosts'}: SERVFAIL for ${q.name}` };
      return { ok: true, reply: a.reply, analysis };
    }
    return null;
  }

  /** The whoami reply for a query from `remote` ("ip:port"), to render like a cached one; null without whoami. */
  whoamiReply(msg: Buffer, query: ParsedQuery, remote: string, tcp: boolean): ReplyTemplate | null {
    const reply = this.whoami ? whoamiReply(msg, keyToName(query.key), query.qclass, remote, tcp) : null;
    const analysis = reply && analyzeReply(reply);
    return reply && analysis ? toTemplate(reply, analysis, query.questionEnd) : null;
  }

  close(): void {
    this.hosts?.close();
  }
}

/** A re-encoded reply larger than the client takes is cut as every reply is (src/dns/reply.ts). */
function fit(reply: Buffer, clientMsg: Buffer, query: ParsedQuery, tcp: boolean): Buffer {
  const limit = clientLimit(query, tcp);
  if (reply.length <= limit) return reply;
  const analysis = analyzeReply(reply);
  return analysis ? renderReply(toTemplate(reply, analysis, query.questionEnd), clientMsg, query, { ttl: -1, authoritative: false, limit }) : reply;
}

/** dns64: looks the name's A records up through the whole block, then answers with AAAA records made from them. */
function synthesizeAaaa<P>(dns64: Dns64, aaaaReply: Buffer, clientMsg: Buffer, query: ParsedQuery, channel: ReplyChannel<P>, peer: P, server: QueryServer): void {
  const aQuery = Buffer.from(clientMsg);
  aQuery.writeUInt16BE(1, query.nameEnd); // qtype A
  let answered = false;
  const once = (reply: Buffer, p: P): void => {
    if (answered) return;
    answered = true;
    const synthesized = dns64.synthesize(aaaaReply, reply);
    channel.send(synthesized ? fit(synthesized, clientMsg, query, channel.tcp) : aaaaReply, p);
  };
  const capture: ReplyChannel<P> = {
    tcp: channel.tcp,
    familyIndex: channel.familyIndex,
    router: channel.router,
    remote: (p) => channel.remote(p),
    send: once,
    discard: (p) => once(aaaaReply, p),
  };
  server.handle(aQuery, capture, peer);
}
