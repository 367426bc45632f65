// The one small HTTP server used by both side listeners: the metrics listener (CoreDNS
// `prometheus :9253`, node-cache `-metrics-listen-address`) and the health listener (CoreDNS
// `health LOCAL_IP:8080`). Routes: /metrics when a registry is given, /health and /ready when a
// HealthState is given, 404 otherwise. Binds to one address when asked (node-cache issue #542).
import http from 'node:http';
import { REUSE_PORT_SUPPORTED } from '../util/features.js';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Registry } from 'prom-client';
import type { HealthState, HttpAnswer } from '../health/health.js';
import type { Logger } from '../log/logger.js';

export interface HttpRoutes {
  readonly registry?: Registry; // serves /metrics
  readonly beforeScrape?: () => Promise<void>; // e.g. gather worker counters (workers > 1)
  readonly health?: HealthState; // serves /health and /ready
  /** Other routes (pprof): returns true when it answered the request. */
  readonly handler?: (path: string, req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
}

export interface HttpServerOptions {
  readonly host: string; // '', '*', '0.0.0.0' or '::' = all addresses; '[::1]' brackets are accepted
  readonly port: number; // 0 = any free port
  readonly routes: HttpRoutes;
  readonly log?: Logger;
}

export interface HttpServerHandle {
  /** http://host:port reachable from this process (wildcards become 127.0.0.1): for the health self-check. */
  readonly url: string;
  address(): AddressInfo;
  /** Stop listening and close every connection, idle keep-alive ones included. Idempotent. */
  close(): Promise<void>;
}

const NOT_FOUND: HttpAnswer = { status: 404, body: '404 page not found\n' }; // Go's http.NotFound body
const gzip = promisify(zlib.gzip);

/** Create the server, listen on host:port and resolve once it is listening. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const server = http.createServer((req, res) => {
    route(options.routes, req, res).catch((err: unknown) => fail(res, err, options.log));
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await listen(server, normalizeHost(options.host), options.port);
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(address)}:${address.port}`,
    address: () => address,
    close: () => (closing ??= closeServer(server)),
  };
}

async function route(routes: HttpRoutes, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/metrics' && routes.registry) {
    await routes.beforeScrape?.();
    return serveMetrics(routes.registry, req, res);
  }
  if (path === '/health' && routes.health) return sendText(res, routes.health.healthAnswer());
  if (path === '/ready' && routes.health) return sendText(res, routes.health.readyAnswer());
  if (routes.handler && (await routes.handler(path, req, res))) return;
  sendText(res, NOT_FOUND);
}

/** Scrape the registry (all hot-path counters are converted here) and gzip it when the scraper asks. */
async function serveMetrics(registry: Registry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const text = await registry.metrics();
  res.setHeader('Content-Type', registry.contentType);
  if (acceptsGzip(req)) {
    const body = await gzip(text);
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return;
  }
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function acceptsGzip(req: http.IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  return typeof header === 'string' && /\bgzip\b/.test(header);
}

function sendText(res: http.ServerResponse, answer: HttpAnswer): void {
  res.statusCode = answer.status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(answer.body));
  res.end(answer.body);
}

function fail(res: http.ServerResponse, err: unknown, log: Logger | undefined): void {
  log?.error({ err }, 'http handler failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendText(res, { status: 500, body: 'internal error\n' });
}


function listen(server: http.Server, host: string | undefined, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ...(REUSE_PORT_SUPPORTED ? { reusePort: true } : {}) /* surge rollouts: bind next to the old pod */ }, () => {
      server.off('error', reject);
      // After listen only accept() reports errors (EMFILE when out of descriptors); unheard,
      // the 'error' event would be an uncaught exception and end the process.
      server.on('error', () => undefined);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** '' and '*' mean every address (Node then binds '::' dual-stack, or 0.0.0.0 without IPv6). */
function normalizeHost(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare === '' || bare === '*' ? undefined : bare;
}

function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '::') return '127.0.0.1';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}
