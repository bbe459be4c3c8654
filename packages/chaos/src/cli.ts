import { parseArgs } from 'node:util';
import { ALL_FAULT_KINDS, CLUSTER_FAULT_KINDS, FAULT_KINDS, MODE_FAULT_KINDS, type FaultKind } from './faults.js';
import { runChaos } from './run-chaos.js';

const HELP = `partyline chaos — seeded faults against relays, Redis and SDK clients, then a checker of every member's app view

Usage: npm run chaos -- [--clients 200] [--relays 3] [--duration 60] [--seed 42] [--crash] [--redis-fsync everysec] [--redis-cluster] [--retention 200] [--presence] [--annotations 0.4]

  --clients N          SDK clients in Node (own IndexedDB each), 10 per room                    (default 200)
  --browsers N         members in real Chromium, each its own persistent profile and proxy       (default 2)
  --relays N           relay processes sharing one redis-server (AOF) or the Redis Cluster       (default 3)
  --duration S         seconds of faults before healing                                          (default 60)
  --seed S             seed for faults and publish timing; same seed, same plan                  (default 42)
  --faults LIST        only these kinds, in order, once each (e.g. rolling-restart)
                       (default: every kind of the mode once — its own kinds first — then random ones until
                       the duration is up; a planned fault always runs, even past the duration)
  --crash              hard crashes: N of the Node clients run as child processes over a durable IndexedDB
                       (fake-indexeddb + a write-ahead journal file) and the client-crash fault kills them
                       with SIGKILL; Chromium members' tabs are crashed (CDP Page.crash) and the app opens
                       again in a new tab of the same profile
  --crash-clients N    with --crash: Node clients run as child processes       (default clients/10, 2..20)
  --redis-fsync MODE   always | everysec. everysec: a Redis kill also drops the AOF written since the last
                       (simulated, once a second) fsync, as a power loss would — room logs lose their tail
                       and reuse those seqs; members must get reset 'diverged' and agree with the new log
                                                                                                 (default always)
  --redis-cluster      the relays on a Redis Cluster instead of one redis-server: 3 masters with one replica each
                       (AOF, fsync always), relays started with --redis-cluster and --ack-replicas 1 (a publish is
                       acked only once a replica holds it). The Redis faults become master-kill (SIGKILL of a
                       master — every other time 200–800 ms after its replica link was dropped, so the master takes
                       writes its replica never gets; the run waits until the replica is promoted and serves the
                       slots, then restarts the killed node and waits until it is back as that replica's replica)
                       and node-restart (SIGKILL of any node, started again at once); a master is killed first and
                       once more later. Not with --presence or --redis-fsync everysec
  --retention N        relays keep at most N messages per room (--retention-messages); adds the member-away
                       fault (members offline while the room trims past them): 'trimmed' resets expected
  --annotations R      share of members' actions (one every 0.5–2.5 s) that are not publishes but edits and deletes
                       of their user's messages, reactions and unreactions (4 keys) of messages they hold, and read
                       marks — also while offline; 0: publish only. Unless --presence, every other Node client of a
                       room is a second device of another's user (same token sub), so an edit may meet a delete the
                       other device made meanwhile: refused message_deleted, an explicit outcome        (default 0.4)
  --presence           every member also enters its room's presence (data {name, life}) and records every presence
                       event; after quiescence, every live member's members() must equal who is alive and connected
                       (see below)
  --presence-record F  with --presence: write every member's presence record (events, connection changes, lives,
                       cuts) and final view to file F as JSON
  --help               show this help

Faults: per-client network cuts (TCP proxy), client restarts from the persisted IndexedDB (Node: SDK closed
and opened again; Chromium: a real reload), relay SIGKILL and restart, relay SIGTERM drain and restart, Redis
SIGKILL and restart, Redis SIGSTOP/SIGCONT (with --redis-cluster: master-kill and node-restart instead), a
rolling restart of every relay; client-crash with --crash, member-away with --retention; and token expiry
throughout (every token lives 5–15 s).

The checker judges each member's app view, session by session: history() at each (re)start, then every
message and reset event, against the final room log. It prints
  lost               queued messages missing from the log; log messages a view skipped (gap, missing prefix, missing tail)
  lost by the store  queued messages missing from the log whose append was in the AOF tail a Redis crash
                     dropped (read from the file before the cut); or, when Redis held writes back behind a
                     slow fsync at the kill, acked from 2 s before its last fsync until it was back (Redis
                     acks such writes before writing them). Only with --redis-fsync everysec: G1 holds
                     only with appendfsync always
  duplicated         appended twice, or handed twice to one view (also across restarts)
  reordered          handed below the view's position
  diverged silently  messages a final view holds that the log does not, with no reset after them
                     (or a view that changed across a restart with no reset)
  resets             by reason; explained if the log really lost what the view had (diverged, epoch_changed)
                     or no longer holds the range (trimmed). On a cluster a view may have read a message the
                     old master held but had not replicated (so never acked): that diverged reset is explained;
                     an acked message the failover lost is counted as lost
  master failovers   with --redis-cluster: replicas promoted to master (by master-kill, node-restart or the
                     cluster itself)
Annotations (edits, deletes, reactions) are judged like messages above (each queued one appended once, handed
once in order) and also
  annotations        queued / appended / noop (acked as changing nothing: a reaction held already, an unreact of
                     none, a delete of a deleted message; never appended) / refused by kind; unexplained noops and
                     refusals: ones the final log does not explain (message_deleted of a message never deleted...)
  rule violations    appended annotations the relays should have refused or nooped (a reaction held twice, a change
                     after a delete, an edit by another sender)
  summary mismatches the final logs folded by the SDK's fold (message-fold.ts), for each user's "mine", against
                     every member's room.messages() for the messages it holds (members) and against every relay's
                     page summaries read as each user after quiescence (relays)
  read mismatches    each user's read position must be the furthest seq it marked or posted, with the messages after
                     it unread: as the relays keep it (join ack read, user:unread) and as members show it (readState());
                     a relay that does not answer a user after quiescence (retryable errors retried for 10 s) is
                     counted as a failed relay look
With --presence it also prints (after waiting until every view is right, at most ~30 s past the heal)
  ghosts             members a live member's members() shows that are not alive and connected
  missing            members alive and connected that a live member's members() does not show
  stale data         shown with other data than the member's current life entered with
  flaps              a member seen leaving and joining again within the 5 s grace, though its own connection
                     was not down past the grace and its client was not restarted (the member's connection
                     record from its SDK and its fault log: cuts, restarts, crashes); each flap and unexplained
                     leave is also told as made by the relays or only by a view, from the members the relays'
                     Redis keys held (polled every 50 ms)
  legitimate leaves  leaves explained by a restart (the SDK leaves at once) or a connection down past the grace
  unexplained leaves leaves nothing explains and no join followed within the grace
  relay lists        the relays' own member lists (presence:get) against who is really there
Exits non-zero if lost, duplicated, reordered, diverged silently, unexplained resets, unexplained noops or
refusals, rule violations, summary or read mismatches are above 0, or the run did not quiesce; with --presence also if ghosts, missing, stale data, flaps or unexplained leaves are above 0.`;

const { values } = parseArgs({
  options: {
    clients: { type: 'string' },
    relays: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    faults: { type: 'string' },
    browsers: { type: 'string' },
    crash: { type: 'boolean' },
    'crash-clients': { type: 'string' },
    'redis-fsync': { type: 'string' },
    'redis-cluster': { type: 'boolean' },
    retention: { type: 'string' },
    presence: { type: 'boolean' },
    'presence-record': { type: 'string' },
    annotations: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const fail = (text: string): never => {
  console.error(`chaos: ${text} (see --help)`);
  process.exit(2);
};
const numbers = { browsers: Number(values.browsers ?? 2), clients: Number(values.clients ?? 200), relays: Number(values.relays ?? 3), duration: Number(values.duration ?? 60), seed: Number(values.seed ?? 42) };
for (const [name, value] of Object.entries(numbers)) {
  if (!Number.isInteger(value) || value < (name === 'browsers' ? 0 : 1)) fail(`--${name} must be a positive integer`);
}
const crashClients = values['crash-clients'] === undefined ? undefined : Number(values['crash-clients']);
if (crashClients !== undefined && (!Number.isInteger(crashClients) || crashClients < 0)) fail('--crash-clients must be a non-negative integer');
const fsync = values['redis-fsync'] ?? 'always';
if (fsync !== 'always' && fsync !== 'everysec') fail(`--redis-fsync must be always or everysec, got ${JSON.stringify(fsync)}`);
const redisCluster = values['redis-cluster'] ?? false;
if (redisCluster && fsync === 'everysec') fail('--redis-cluster runs every node with appendfsync always; --redis-fsync everysec is for one redis-server');
if (redisCluster && values.presence) fail('--presence reads the presence keys of one redis-server; not with --redis-cluster');
const retention = values.retention === undefined ? undefined : Number(values.retention);
if (retention !== undefined && (!Number.isInteger(retention) || retention < 1)) fail('--retention must be a positive integer');

const annotations = values.annotations === undefined ? undefined : Number(values.annotations);
if (annotations !== undefined && !(annotations >= 0 && annotations <= 1)) fail('--annotations must be a share between 0 and 1');

const faults = values.faults?.split(',').map((kind) => kind.trim()) as FaultKind[] | undefined;
const modeKinds: readonly FaultKind[] = [...(redisCluster ? CLUSTER_FAULT_KINDS : FAULT_KINDS), ...MODE_FAULT_KINDS];
for (const kind of faults ?? []) {
  if (!ALL_FAULT_KINDS.includes(kind)) fail(`unknown fault ${JSON.stringify(kind)}; kinds: ${ALL_FAULT_KINDS.join(', ')}`);
  if (!modeKinds.includes(kind)) fail(`fault ${kind} is not for ${redisCluster ? 'a Redis Cluster' : 'one redis-server (add --redis-cluster)'}; kinds here: ${modeKinds.join(', ')}`);
}
const started = Date.now();
const report = await runChaos({
  clients: numbers.clients,
  relays: numbers.relays,
  durationSeconds: numbers.duration,
  seed: numbers.seed,
  browsers: numbers.browsers,
  crash: values.crash ?? false,
  ...(crashClients !== undefined ? { crashClients } : {}),
  redisFsync: fsync as 'always' | 'everysec',
  redisCluster,
  ...(retention !== undefined ? { retentionMessages: retention } : {}),
  ...(faults ? { faults } : {}),
  presence: values.presence ?? false,
  ...(annotations !== undefined ? { annotations } : {}),
  ...(values['presence-record'] !== undefined ? { presenceRecordFile: values['presence-record'] } : {}),
  onProgress: (line) => console.error(`[chaos ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
});
const { resetsByReason: reasons } = report;
const notes = report.annotations;
console.log(`published:              ${report.published}`);
console.log(`appended:               ${report.appended}`);
console.log(
  `annotations:            published ${notes.published}, appended ${notes.appended}, noop ${notes.noop}, refused ${notes.refused}${notes.refused ? ` (${Object.entries(notes.refusedByKind).map(([kind, n]) => `${kind} ${n}`).join(', ')})` : ''}; unexplained noops ${notes.noopsUnexplained}, refusals ${notes.refusalsUnexplained}; rule violations ${notes.ruleViolations}`,
);
console.log(`summary mismatches:     members ${notes.memberMismatches}, relays ${notes.relayMismatches}`);
console.log(`read mismatches:        members ${notes.readMismatches.members}, relays ${notes.readMismatches.relays}${notes.relayLookFailures ? `; ${notes.relayLookFailures} relay looks failed` : ''}`);
console.log(`delivered:              ${report.delivered} message events, ${report.replayed} messages replayed by history() in ${report.sessions} sessions`);
console.log(`crashes:                ${report.crashes.processes} Node member processes killed -9, ${report.crashes.tabs} Chromium tabs crashed`);
console.log(`member failures:        ${report.memberFailures.length}${report.memberFailures.length ? ' (the counts below are not about the SDK alone: a member died)' : ''}`);
for (const failure of report.memberFailures) console.log(`  ! ${failure}`);
console.log(`lost:                   ${report.lost}`);
console.log(
  `lost by the store:      ${report.lostByStore}${fsync === 'everysec' ? ` (allowed with appendfsync everysec: ${report.storeCrashesWithLoss} Redis crashes dropped ${report.unsyncedBytesLost} unsynced AOF bytes holding ${report.appendsLostByStore} appends)` : ''}`,
);
console.log(`duplicated:             ${report.duplicated}`);
console.log(`reordered:              ${report.reordered}`);
console.log(`diverged silently:      ${report.divergedSilently}`);
console.log(`resets:                 ${report.resets} (diverged ${reasons.diverged}, epoch_changed ${reasons.epoch_changed}, trimmed ${reasons.trimmed})`);
console.log(`resets explained:       ${report.resetsExplained} / unexplained ${report.resetsUnexplained}`);
if (redisCluster) console.log(`master failovers:       ${report.masterFailovers} (${report.faults['master-kill']} masters killed -9, ${report.masterKillsAfterLinkDrop} of them just after their replica link dropped; ${report.faults['node-restart']} nodes restarted)`);
console.log(`faults injected:        ${Object.entries(report.faults).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
console.log(`seconds to quiescence:  ${report.secondsToQuiescence.toFixed(1)}${report.quiesced ? '' : ' (did not quiesce)'}`);
for (const example of [...report.examples, ...notes.examples]) console.log(`  ! ${example}`);
const presence = report.presence;
if (presence) {
  console.log(`presence:               ${presence.observers} live views judged, ${presence.events} presence events recorded, settled ${presence.secondsToSettle.toFixed(1)} s after the heal${presence.settled ? '' : ' (did not settle)'}`);
  console.log(`  ghosts:               ${presence.ghosts}`);
  console.log(`  missing:              ${presence.missing}`);
  console.log(`  stale data:           ${presence.staleData}`);
  const by = (n: number, relays: number | undefined) => (n > 0 && relays !== undefined ? ` (${relays} made by the relays, ${n - relays} only in views: the store kept the member)` : '');
  console.log(`  flaps:                ${presence.flaps}${by(presence.flaps, presence.byTheRelays?.flaps)}`);
  console.log(`  legitimate leaves:    ${presence.legitimateLeaves} (${presence.leavesSeen} leaves seen over all views)`);
  console.log(`  unexplained leaves:   ${presence.unexplainedLeaves}${by(presence.unexplainedLeaves, presence.byTheRelays?.unexplainedLeaves)}`);
  console.log(`  relay lists:          ghosts ${presence.relayGhosts}, missing ${presence.relayMissing}`);
  for (const example of presence.examples) console.log(`  ! ${example}`);
}
const presenceOk = !presence || presence.ghosts + presence.missing + presence.staleData + presence.flaps + presence.unexplainedLeaves + presence.relayGhosts + presence.relayMissing === 0;
const annotationsOk = notes.noopsUnexplained + notes.refusalsUnexplained + notes.ruleViolations + notes.memberMismatches + notes.relayMismatches + notes.readMismatches.members + notes.readMismatches.relays + notes.relayLookFailures === 0;
const ok = annotationsOk && report.memberFailures.length === 0 && report.lost === 0 && report.duplicated === 0 && report.reordered === 0 && report.divergedSilently === 0 && report.resetsUnexplained === 0 && report.quiesced && presenceOk;
process.exit(ok ? 0 : 1);
