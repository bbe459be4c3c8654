import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';

export interface RelayAnswer {
  status: number;
  text: string;
}

/**
 * How long a connection stays open unused: as fetch's pool (undici), shorter than the relay's 5 s.
 * A relay (or proxy) announcing a shorter `Keep-Alive: timeout` is left a second before it would
 * close: a request written as the relay closes would be lost with ECONNRESET.
 */
const IDLE_TIMEOUT_MS = 4_000;

/**
 * HTTP requests to one relay over a pool of keep-alive connections (node:http, not fetch: per request
 * fetch costs a backend ~4× the CPU, in WHATWG streams and header objects). Idle connections never
 * keep the process alive.
 */
export function createRelayTransport(url: string, timeoutMs: number) {
  const target = new URL(url);
  const base = urlToHttpOptions(target);
  const secure = base.protocol === 'https:';
  const request = secure ? httpsRequest : httpRequest;
  const pool = { keepAlive: true, timeout: IDLE_TIMEOUT_MS };
  const agent = secure ? new HttpsAgent(pool) : new HttpAgent(pool);
  const prefix = target.pathname.replace(/\/$/, '');
  return {
    /** Sends `body` (JSON text) when given; answers the status and the body text, or fails after `timeoutMs` without an answer. */
    send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RelayAnswer> {
      const options: RequestOptions = {
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port,
        ...(base.auth ? { auth: base.auth } : {}),
        path: `${prefix}${path}`,
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      };
      return new Promise((resolve, reject) => {
        const outgoing = request(options, (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('end', () => {
            clearTimeout(timer);
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          response.once('error', fail);
        });
        // One timer for the whole exchange (as fetch's AbortSignal.timeout), not the socket's idle timeout.
        const timer = setTimeout(() => outgoing.destroy(new DOMException(`no answer from the relay within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
        function fail(error: Error) {
          clearTimeout(timer);
          reject(error);
        }
        outgoing.once('error', fail);
        outgoing.end(body);
      });
    },
  };
}
