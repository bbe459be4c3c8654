import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one relay, in a registry of its own (several relays may share a process). */
export interface RelayMetrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly rooms: Gauge;
  readonly published: Counter;
  readonly dedupHits: Counter;
  readonly catchUpMessages: Counter;
  readonly errors: Counter<'kind'>;
  readonly handshakeRefusals: Counter<'kind'>;
  readonly presenceLeases: Gauge;
  readonly presenceChanges: Counter<'kind'>;
  readonly presenceLeaseExpiries: Counter;
  readonly webhookDeliveries: Counter<'outcome'>;
  readonly webhookDeadLetters: Counter<'reason'>;
  readonly slowConsumerDisconnects: Counter;
  readonly publishAckSeconds: Histogram;
  readonly storeSeconds: Histogram<'op'>;
}

export function createRelayMetrics(countRooms: () => number): RelayMetrics {
  const registry = new Registry();
  // Process and runtime metrics, including nodejs_eventloop_lag_seconds.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    connections: new Gauge({ name: 'partyline_connections', help: 'Open client connections', registers }),
    rooms: new Gauge({
      name: 'partyline_rooms',
      help: 'Rooms with at least one member on this relay',
      registers,
      collect() {
        this.set(countRooms());
      },
    }),
    published: new Counter({ name: 'partyline_messages_published_total', help: 'Messages appended to room logs', registers }),
    dedupHits: new Counter({ name: 'partyline_dedup_hits_total', help: 'Publishes answered from the dedup record (retries)', registers }),
    catchUpMessages: new Counter({ name: 'partyline_catchup_messages_total', help: 'Messages served from the log by join and read', registers }),
    errors: new Counter({ name: 'partyline_errors_total', help: 'Typed errors answered, by kind', labelNames: ['kind'], registers }),
    handshakeRefusals: new Counter({ name: 'partyline_handshake_refusals_total', help: 'Connections refused at handshake, by kind', labelNames: ['kind'], registers }),
    presenceLeases: new Gauge({ name: 'partyline_presence_leases', help: 'Presence leases this relay keeps (a connection entered in a room)', registers }),
    presenceChanges: new Counter({ name: 'partyline_presence_changes_total', help: 'Presence changes (joined, left, updated) this relay made', labelNames: ['kind'], registers }),
    presenceLeaseExpiries: new Counter({ name: 'partyline_presence_lease_expiries_total', help: 'Members removed because their leases ran out (a lost connection after its grace, a dead relay)', registers }),
    webhookDeliveries: new Counter({ name: 'partyline_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome (delivered, failed: retried or dead-lettered)', labelNames: ['outcome'], registers }),
    webhookDeadLetters: new Counter({
      name: 'partyline_webhook_dead_letters_total',
      help: 'Webhook events given up on and dead-lettered, by reason (refused: a final 4xx; attempts, age: retries used up)',
      labelNames: ['reason'],
      registers,
    }),
    slowConsumerDisconnects: new Counter({ name: 'partyline_slow_consumer_disconnects_total', help: 'Connections closed for falling too far behind', registers }),
    publishAckSeconds: new Histogram({
      name: 'partyline_publish_ack_seconds',
      help: 'From a publish request arriving to its ack',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    storeSeconds: new Histogram({
      name: 'partyline_store_seconds',
      help: 'Room log store round-trip (a Redis script call when on Redis), by operation',
      labelNames: ['op'],
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  };
}
