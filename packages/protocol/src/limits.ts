/** Defaults shared by relay and SDK, so a client never queues what a default relay will refuse. */
export const DEFAULT_LIMITS = {
  /** Largest message body, in UTF-8 bytes. @default 65536 */
  maxBodyBytes: 64 * 1024,
  /** Most messages in one publish batch. @default 100 */
  maxBatchMessages: 100,
  /** Most bytes in one publish batch (ids, types and bodies): what one frame may cost a relay after auth. @default 1048576 */
  maxBatchBytes: 1024 * 1024,
  /** Largest frame a relay reads before the connection is authenticated. @default 16384 */
  maxPreAuthFrameBytes: 16 * 1024,
  /** Largest page a read or join returns. @default 500 */
  maxPageSize: 500,
  /** Most bytes of messages (as JSON on the wire) in one page, whatever their sizes. @default 1048576 */
  maxPageBytes: 1024 * 1024,
  /** Largest signal body, in UTF-8 bytes. @default 4096 */
  maxSignalBytes: 4 * 1024,
  /** Largest presence data of one member, in UTF-8 bytes. @default 1024 */
  maxPresenceDataBytes: 1024,
} as const;

/** How long a relay remembers a message id (and an SDK keeps an unsent message): 7 days. */
export const DEFAULT_DEDUP_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
