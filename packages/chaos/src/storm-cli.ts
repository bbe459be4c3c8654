import { parseArgs } from 'node:util';
import { runStorm } from './storm.js';

const HELP = `partyline storm — a relay with many clients dies; how long until the other relay has them all?

Usage: npm run storm -- [--clients 2000]

  --clients N   SDK clients (Node, fake-indexeddb) on relay A before it is killed -9   (default 2000)
  --help        show this help`;

const { values } = parseArgs({ options: { clients: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const clients = Number(values.clients ?? 2000);
if (!Number.isInteger(clients) || clients <= 0) {
  console.error('storm: --clients must be a positive integer (see --help)');
  process.exit(2);
}
const started = Date.now();
const report = await runStorm({ clients, onProgress: (line) => console.error(`[storm ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`) });
console.log(`clients:                      ${report.clients}`);
console.log(`seconds until all back:       ${report.secondsUntilAllBack.toFixed(2)}`);
console.log(`rate-limited reconnects:      ${report.rateLimitedRefusals}`);
console.log(`relay B refused handshakes:   ${report.relayRefusals}`);
