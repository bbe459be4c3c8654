import type { SummarizedMessage } from './message-fold.js';

/**
 * About what a message costs to hold, in memory or in the cache: the characters of its text plus a
 * record's overhead. Never more than a relay counts for it when it bounds a page (UTF-8 bytes of its
 * JSON plus 64), so a page a relay bounded is never taken for an oversized one.
 */
export function messageBytes(message: SummarizedMessage): number {
  // A page's summary rides along in the cache (attached after the page's bound was checked).
  const summary = message.summary ? JSON.stringify(message.summary).length : 0;
  return message.id.length + message.type.length + message.body.length + message.sender.length + 64 + summary;
}

export function bytesOf(messages: Iterable<SummarizedMessage>): number {
  let bytes = 0;
  for (const message of messages) bytes += messageBytes(message);
  return bytes;
}
