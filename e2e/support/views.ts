import { randomUUID } from 'node:crypto';
import { expect, type Page } from '@playwright/test';
import type { LogMessage } from '@partyline/protocol';
import type { RawView } from '../../apps/party-planner/src/party/party-view.js';
import { sendChat } from './party.js';
import { readRoomLog } from './room-log.js';

export type { RawView };

/**
 * Each screen's raw event stream: what the SDK handed that page's app through `useMessages` (the view it
 * opened with — `history()` —, then every message added to it, and any `reset`), recorded by the app before it interprets anything
 * (`window.__partyline.views`, see apps/party-planner/src/party/party-view.ts). A reload starts a new
 * view; these helpers read the page's current one.
 */
export async function rawView(page: Page, room: string): Promise<RawView | undefined> {
  return page.evaluate((name) => window.__partyline?.views[name], room);
}

/** The seqs of a view as the app got them: history, then events. */
export function viewSeqs(view: RawView): number[] {
  return [...view.history, ...view.events];
}

/** `1–130, 148–301, 5` — runs of consecutive seqs, for failure messages. */
export function runs(seqs: readonly number[]): string {
  const parts: string[] = [];
  let start: number | undefined;
  let previous: number | undefined;
  const close = () => {
    if (start !== undefined) parts.push(start === previous ? `${start}` : `${start}–${previous}`);
  };
  for (const seq of seqs) {
    if (previous !== undefined && seq === previous + 1) {
      previous = seq;
      continue;
    }
    close();
    start = previous = seq;
  }
  close();
  return parts.join(', ') || 'none';
}

export function describeView(view: RawView | undefined): string {
  if (!view) return 'no view recorded';
  return `history [${runs(view.history)}], events [${runs(view.events)}], resets ${JSON.stringify(view.resets)}, anomalies ${JSON.stringify(view.anomalies)}`;
}

/**
 * What is wrong with a view that should be exactly the room log 1..`head` (or, with `prefix`, exactly
 * 1..k for some k ≤ head): duplicates, gaps, a missing prefix, disorder, resets, anomalies the app saw.
 */
export function viewProblems(view: RawView | undefined, head: number, options: { prefix?: boolean } = {}): string[] {
  if (!view) return ['no view recorded (window.__partyline.views)'];
  const problems: string[] = [];
  if (!view.opened) problems.push('history() never answered');
  const seqs = viewSeqs(view);
  const counts = new Map<number, number>();
  for (const seq of seqs) counts.set(seq, (counts.get(seq) ?? 0) + 1);
  const twice = [...counts].filter(([, count]) => count > 1).map(([seq]) => seq);
  if (twice.length > 0) problems.push(`duplicated: ${runs(twice)}`);
  const end = options.prefix ? Math.max(0, ...seqs) : head;
  const missing: number[] = [];
  for (let seq = 1; seq <= end; seq += 1) if (!counts.has(seq)) missing.push(seq);
  if (missing.length > 0) problems.push(`missing: ${runs(missing)}`);
  const beyond = seqs.filter((seq) => seq > head);
  if (beyond.length > 0) problems.push(`beyond the log head ${head}: ${runs(beyond)}`);
  if (twice.length === 0 && missing.length === 0 && seqs.some((seq, index) => seq !== index + 1)) problems.push('out of order');
  if (view.resets.length > 0) problems.push(`unexpected resets: ${JSON.stringify(view.resets)}`);
  if (view.anomalies.length > 0) problems.push(`the app saw anomalies: ${JSON.stringify(view.anomalies)}`);
  return problems;
}

/** Asserts the page's view is exactly the room log: history + events == 1..head, once each, in order, no reset. */
export async function expectExactView(label: string, page: Page, room: string, head: number): Promise<void> {
  const view = await rawView(page, room);
  expect(viewProblems(view, head), `${label}'s view of ${room} vs the log 1–${head}: ${describeView(view)}`).toEqual([]);
}

/** Asserts the page's view so far is an exact start of the log (1..k, k ≤ head) — e.g. right before a reload. */
export async function expectExactPrefix(label: string, page: Page, room: string, head: number): Promise<RawView> {
  const view = await rawView(page, room);
  expect(viewProblems(view, head, { prefix: true }), `${label}'s view of ${room} so far: ${describeView(view)}`).toEqual([]);
  return view!;
}

/** Waits until the page's view has reached `seq` (history + events). */
export async function waitViewAt(page: Page, room: string, seq: number): Promise<void> {
  await expect
    .poll(async () => {
      const view = await rawView(page, room);
      return view ? Math.max(0, ...viewSeqs(view)) : 0;
    }, { message: `view of ${room} reaching seq ${seq}` })
    .toBeGreaterThanOrEqual(seq);
}

export interface Screen {
  label: string;
  page: Page;
}

/**
 * Instead of sleeping before "nothing doubled" assertions: `sender` posts a sentinel chat message
 * last; once every screen shows it delivered from the log (a seq on its line) and every view reached
 * it, anything that was going to arrive before it has. Answers the room log read from `relayUrl`,
 * which must end with the sentinel (nobody else may still be publishing).
 */
export async function settleWithSentinel(sender: Page, screens: readonly Screen[], room: string, relayUrl: string, tokenSecret: string): Promise<LogMessage[]> {
  const text = `sentinel ${randomUUID().slice(0, 8)}`;
  await sendChat(sender, text);
  for (const { page } of screens) {
    await expect(page.getByTestId('chat').locator('li.line:not([data-seq=""])', { hasText: text })).toHaveCount(1);
  }
  const log = await readRoomLog(relayUrl, room, tokenSecret);
  const last = log.at(-1);
  expect(last && (JSON.parse(last.body) as { text?: string }).text, 'the sentinel is the last message of the log').toBe(text);
  for (const { page } of screens) await waitViewAt(page, room, last!.seq);
  return log;
}

/** Every screen's view is exactly the log. */
export async function expectExactViews(screens: readonly Screen[], room: string, log: readonly LogMessage[]): Promise<void> {
  expect(log.map((message) => message.seq), 'the relay log itself is 1..head').toEqual(log.map((_, index) => index + 1));
  for (const { label, page } of screens) await expectExactView(label, page, room, log.length);
}
