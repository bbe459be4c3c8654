/**
 * An app backend keeps many HTTP connections open to the relay (keep-alive pools). Once a request on
 * a connection is authenticated, that connection no longer counts against the per-address cap on
 * connections without an accepted token; connections that never authenticate still do. Answers
 * carry their length, so a backend's client reads them without chunked framing.
 */
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type RunningRelay } from './support/harness.js';

const API_KEY = 'backend-key-backend-key-backend-key!';
const PENDING_PER_ADDRESS = 128;
const CONNECTIONS = 200;

let running: RunningRelay;
beforeAll(async () => {
  running = await startRelay({ apiKeys: [API_KEY] });
});
afterAll(() => running?.relay.close());

interface Answer {
  status: number;
  reused: boolean;
  headers: IncomingHttpHeaders;
}

/** One request on the agent's one keep-alive connection: its status and headers, and whether the connection was reused. */
function send(agent: Agent, bearer: string, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(method === 'GET' ? '/v1/rooms/backend/messages?last=1' : '/v1/rooms/backend/messages', running.url);
    const headers = { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const call = request(url, { agent, method, headers }, (response: IncomingMessage) => {
      response.resume();
      response.once('end', () => resolve({ status: response.statusCode ?? 0, reused: call.reusedSocket, headers: response.headers }));
    });
    call.once('error', reject);
    call.end(body);
  });
}
const get = (agent: Agent, bearer: string) => send(agent, bearer);

/** `count` keep-alive connections from 127.0.0.1, opened one after the other, each making one request. */
async function openConnections(count: number, bearer: string): Promise<{ agents: Agent[]; statuses: (number | string)[] }> {
  const agents: Agent[] = [];
  const statuses: (number | string)[] = [];
  for (let i = 0; i < count; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    statuses.push(await get(agent, bearer).then((answer) => answer.status, (error: NodeJS.ErrnoException) => error.code ?? error.message));
  }
  return { agents, statuses };
}

describe('HTTP API connections and the pending cap', () => {
  it(`serves ${CONNECTIONS} authenticated keep-alive connections from one address, and keeps serving them`, async () => {
    const { agents, statuses } = await openConnections(CONNECTIONS, API_KEY);
    try {
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      const again = await Promise.all(agents.map((agent) => get(agent, API_KEY)));
      expect(again.every((answer) => answer.status === 200)).toBe(true);
      expect(again.filter((answer) => !answer.reused).length).toBe(0);
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });

  it('answers with a length, not chunked, and keeps the connection for the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answers = [
        await send(agent, API_KEY, 'POST', JSON.stringify({ type: 'chat', body: { n: 1 } })),
        await send(agent, API_KEY),
        await send(agent, 'not-a-key'),
      ];
      expect(answers.map((answer) => answer.status)).toEqual([201, 200, 401]);
      expect(answers.map((answer) => answer.reused)).toEqual([false, true, true]);
      for (const { headers } of answers) {
        expect(Number(headers['content-length'])).toBeGreaterThan(0);
        expect(headers['transfer-encoding']).toBeUndefined();
        expect(headers.connection).toBe('keep-alive');
      }
    } finally {
      agent.destroy();
    }
  });

  it('still caps connections whose requests are never authenticated', async () => {
    const { agents, statuses } = await openConnections(PENDING_PER_ADDRESS + 2, 'not-a-key');
    try {
      expect(statuses.slice(0, PENDING_PER_ADDRESS).every((status) => status === 401)).toBe(true);
      // Past the cap a new connection is closed as it arrives, before its request is read.
      expect(statuses.slice(PENDING_PER_ADDRESS).every((status) => status === 'ECONNRESET')).toBe(true);
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });
});
