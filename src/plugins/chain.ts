// The plugins of one server block at run time, in CoreDNS's plugin.cfg order:
//   bufsize → dnstap → dns64 → loadbalance → rewrite → cache → template → hosts → forward → whoami
// The pipeline calls enter() once per query when the block has plugins (bufsize and rewrite
// change the query; dns64, loadbalance and rewrite's reverter change replies, so they wrap the
// reply channel); the block's miss path calls answerLocally() before forwarding (template, hosts,
// cached like upstream answers); whoami answers where forward does not.
import type { PluginsConfig } from '../config/types.js';
import { keyToName, parseQuery, type ParsedQuery } from '../dns/query.js';
import { analyzeReply, clientLimit, renderReply, toTemplate, type ReplyAnalysis, type ReplyTemplate } from '../dns/reply.js';
import { RCODE, TYPE } from '../dns/constants.js';
import type { ReplyChannel } from '../server/pipeline.js';
import { capPayload } from './bufsize.js';
import { Loadbalancer } from './loadbalance.js';
import { applyCnameRewrite, cnameRewriteTarget, RewriteHandler, revertReply, rewriteQuery, type RewriteResult } from './rewrite.js';
import { decodeMessage, encodeMessage, rdataNames, type Message } from './message.js';
import { TemplateHandler } from './template.js';
import { HostsHandler } from './hosts.js';
import { localQuestion, type LocalAnswerer } from './local-answer.js';
import { whoamiReply } from './whoami.js';
import { readEdns, writeEdns, type ClientInfo } from './rewrite-edns0.js';
import { peerAddress } from './common.js';
import { Dns64 } from './dns64.js';
import { CLIENT_QUERY, CLIENT_RESPONSE, DnstapWriter } from './dnstap.js';

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
export type LocalResult =
  | { readonly ok: true; readonly reply: Buffer; readonly analysis: ReplyAnalysis }
  | { readonly ok: false; readonly detail: string; readonly quiet: boolean }; // quiet: a SERVFAIL answer, not a failure to log

export class BlockPlugins {
  readonly template: TemplateHandler | null;
  readonly hosts: HostsHandler | null;
  private readonly rewrite: RewriteHandler | null;
  readonly dns64: Dns64 | null;
  private readonly balancer: Loadbalancer | null;
  readonly dnstap: readonly DnstapWriter[];
  private readonly local: readonly LocalAnswerer[];
  /** template or hosts: misses are answered here before forward (even without forward). */
  readonly answersLocally: boolean;
  readonly whoami: boolean;
  /** A template answers with CNAME records: A/AAAA replies get the target's records looked up (CoreDNS's upstream). */
  private readonly followsCnames: boolean;

  constructor(readonly config: PluginsConfig) {
    this.template = config.template.length > 0 ? new TemplateHandler(config.template) : null;
    this.hosts = config.hosts ? new HostsHandler(config.hosts) : null;
    this.rewrite = config.rewrite.length > 0 ? new RewriteHandler(config.rewrite) : null;
    this.dns64 = config.dns64 ? new Dns64(config.dns64) : null;
    this.balancer = config.loadbalance ? new Loadbalancer(config.loadbalance) : null;
    this.dnstap = config.dnstap.map((c) => new DnstapWriter(c));
    this.local = [this.template, this.hosts].filter((h): h is TemplateHandler | HostsHandler => h !== null);
    this.answersLocally = this.local.length > 0;
    this.whoami = config.whoami;
    this.followsCnames = config.template.some((t) => t.answer.some((a) => /\sCNAME\s/i.test(a)));
  }

  /** bufsize and rewrite on the query; dns64, loadbalance and rewrite's reverter on the replies. Null: nothing changes. */
  enter<P>(msg: Buffer, query: ParsedQuery, channel: ReplyChannel<P>, peer: P, server: QueryServer): Entered<P> | null {
    let m = msg;
    let q = query;
    let rewritten: RewriteResult | null = null;
    if (this.rewrite) {
      const edns = this.rewrite.editsEdns ? { state: readEdns(msg, query.questionEnd), client: clientInfo(channel.remote(peer), channel.tcp) } : null;
      rewritten = this.rewrite.rewrite(keyToName(q.key), q.qtype, q.qclass, edns);
      if (rewritten) {
        const next = rewriteQuery(m, q.questionEnd, rewritten.name, rewritten.qtype, rewritten.qclass);
        const parsed = next && parseQuery(next);
        // CoreDNS: "invalid name after rewrite" is SERVFAIL.
        if (!next || !parsed || !parsed.ok) return { msg, query, channel, rcode: RCODE.SERVFAIL };
        // EDNS0 edits change what is forwarded, not the client's own EDNS view (parsed before them).
        m = edns?.state.changed ? writeEdns(next, parsed.query.questionEnd, edns.state) : next;
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
    const questionChanged = rewritten !== null && (rewritten.rules.length > 0 || q.key !== query.key);
    const revert = rewritten?.revert && questionChanged ? rewritten : null;
    const dns64 = this.dns64?.intercepts(query.qtype, query.qclass, channel.familyIndex === 1) ? this.dns64 : null;
    const balance = this.balancer;
    const follow = this.followsCnames && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA) && !followUps.has(msg);
    const out = this.dnstap.length > 0 ? this.tap(msg, channel, peer) : channel;
    if (!revert && !balance && !dns64 && !follow) return m === msg && out === channel ? null : { msg: m, query: q, channel: out, rcode: 0 };
    const deliver = (reply: Buffer, peer: P): void => {
      const r = balance ? balance.apply(reply) : reply;
      if (dns64 && dns64.wants(r)) synthesizeAaaa(dns64, r, msg, query, out, peer, server);
      else out.send(r, peer);
    };
    const finish = (reply: Buffer, peer: P): void => {
      if (!revert) return deliver(reply, peer);
      const reverted = fit(revertReply(reply, msg, revert), msg, query, channel.tcp);
      // rewrite cname: the new target is looked up through the server (CoreDNS's upstream).
      const target = followUps.has(msg) ? null : cnameRewriteTarget(revert, reverted);
      const lookup = target ? rewriteQuery(msg, query.questionEnd, target, query.qtype, query.qclass) : null;
      if (!lookup) return deliver(reverted, peer);
      followUps.add(lookup);
      lookUp(server, lookup, channel, peer, (up, p) => deliver(fit(applyCnameRewrite(reverted, target!, up), msg, query, channel.tcp), p));
    };
    const wrapped = withSend(out, (reply, peer) => (follow ? followCname(reply, m, q, channel, peer, server, finish) : finish(reply, peer)));
    return { msg: m, query: q, channel: wrapped, rcode: 0 };
  }

  /** dnstap: CLIENT_QUERY now, CLIENT_RESPONSE with the reply the client gets. */
  private tap<P>(msg: Buffer, channel: ReplyChannel<P>, peer: P): ReplyChannel<P> {
    const client = peerAddress(channel.remote(peer)) ?? { address: Buffer.alloc(4), port: 0 };
    const queryTimeMs = Date.now();
    for (const w of this.dnstap) w.tap({ type: CLIENT_QUERY, tcp: channel.tcp, address: client.address, port: client.port, queryTimeMs, message: w.config.full ? msg : undefined });
    return withSend(channel, (reply, p) => {
      const responseTimeMs = Date.now();
      for (const w of this.dnstap) w.tap({ type: CLIENT_RESPONSE, tcp: channel.tcp, address: client.address, port: client.port, queryTimeMs, responseTimeMs, message: w.config.full ? reply : undefined });
      channel.send(reply, p);
    });
  }

  /** template, then hosts: a local reply, a failure (SERVFAIL), or null to forward. */
  answerLocally(query: Buffer): LocalResult | null {
    const q = localQuestion(query);
    if (!q) return null;
    for (const handler of this.local) {
      const a = handler.answer(q);
      if (a === null) continue;
      const analysis = a.reply && analyzeReply(a.reply);
      if (!a.reply || !analysis) return { ok: false, detail: a.error ?? `${handler === this.template ? 'template' : 'hosts'}: SERVFAIL for ${q.name}`, quiet: a.error === undefined };
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
    for (const w of this.dnstap) w.close();
    this.balancer?.close();
  }
}

function clientInfo(remote: string, tcp: boolean): ClientInfo {
  const peer = peerAddress(remote);
  return { address: peer?.address ?? Buffer.alloc(4), port: peer?.port ?? 0, tcp };
}

/** A re-encoded reply larger than the client takes is cut as every reply is (src/dns/reply.ts). */
function fit(reply: Buffer, clientMsg: Buffer, query: ParsedQuery, tcp: boolean): Buffer {
  const limit = clientLimit(query, tcp);
  if (reply.length <= limit) return reply;
  const analysis = analyzeReply(reply);
  return analysis ? renderReply(toTemplate(reply, analysis, query.questionEnd), clientMsg, query, { ttl: -1, authoritative: false, limit }) : reply;
}

/** The lookups CNAME follow-ups (template, rewrite cname) send through the pipeline: not followed again. */
const followUps = new WeakSet<Buffer>();

/**
 * template (CoreDNS): an A/AAAA answer whose CNAME chain ends at a name without records of the
 * asked type gets the target looked up through the whole server (other blocks included) and its
 * answer records appended, its TC copied. Replies that need nothing pass straight on.
 */
function followCname<P>(reply: Buffer, clientMsg: Buffer, query: ParsedQuery, channel: ReplyChannel<P>, peer: P, server: QueryServer, finish: (reply: Buffer, peer: P) => void): void {
  const m = (reply[3] & 0x0f) === RCODE.NOERROR ? decodeMessage(reply) : null;
  const target = m && danglingCnameTarget(m, query.qtype);
  const lookup = target ? rewriteQuery(clientMsg, query.questionEnd, target, query.qtype, query.qclass) : null;
  if (!m || !lookup) return finish(reply, peer);
  followUps.add(lookup);
  lookUp(server, lookup, channel, peer, (up, p) => {
    const upstream = up && decodeMessage(up);
    if (!upstream) return finish(reply, p);
    m.answer.push(...upstream.answer);
    if (upstream.flags & 0x0200) m.flags |= 0x0200;
    finish(encodeMessage(m) ?? reply, p);
  });
}

/**
 * Sends `query` through the whole server (what CoreDNS's upstream lookup does) with a channel
 * that hands the one reply to `done` instead of the client (null when the query was dropped).
 */
function lookUp<P>(server: QueryServer, query: Buffer, channel: ReplyChannel<P>, peer: P, done: (reply: Buffer | null, peer: P) => void): void {
  let answered = false;
  const once = (reply: Buffer | null, p: P): void => {
    if (answered) return;
    answered = true;
    done(reply, p);
  };
  server.handle(query, withSend(channel, once, (p) => once(null, p)), peer);
}

/** A channel like `channel` whose replies go to `send` (and drops to `discard`). */
function withSend<P>(channel: ReplyChannel<P>, send: (reply: Buffer, peer: P) => void, discard: (peer: P) => void = (p) => channel.discard(p)): ReplyChannel<P> {
  return { tcp: channel.tcp, familyIndex: channel.familyIndex, router: channel.router, remote: (p) => channel.remote(p), send, discard };
}

/** The end of the answer's CNAME chain when nothing of `qtype` is there for it; null otherwise. */
function danglingCnameTarget(m: Message, qtype: number): string | null {
  const cnames = m.answer.filter((r) => r.type === TYPE.CNAME);
  if (cnames.length === 0) return null;
  const target = rdataNames(cnames[cnames.length - 1])[0];
  if (!target) return null;
  const lower = target.toLowerCase();
  return m.answer.some((r) => r.type === qtype && r.name.toLowerCase() === lower) ? null : target;
}

/** dns64: looks the name's A records up through the whole block, then answers with AAAA records made from them. */
function synthesizeAaaa<P>(dns64: Dns64, aaaaReply: Buffer, clientMsg: Buffer, query: ParsedQuery, channel: ReplyChannel<P>, peer: P, server: QueryServer): void {
  const aQuery = Buffer.from(clientMsg);
  aQuery.writeUInt16BE(1, query.nameEnd); // qtype A
  lookUp(server, aQuery, channel, peer, (reply, p) => {
    const synthesized = reply && dns64.synthesize(aaaaReply, reply);
    channel.send(synthesized ? fit(synthesized, clientMsg, query, channel.tcp) : aaaaReply, p);
  });
}
