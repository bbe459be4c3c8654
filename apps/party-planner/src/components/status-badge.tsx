import type { OwnStatus } from '../party/use-party.js';

const LABEL: Record<OwnStatus, string> = { pending: 'Sending…', sent: 'Sent', failed: 'Not sent' };
const ICON: Record<OwnStatus, string> = { pending: '◷', sent: '✓', failed: '!' };

/** Pending / sent / failed marker for the friend's own messages and changes. */
export function StatusBadge({ status, offline, reason }: { status: OwnStatus | undefined; offline?: boolean; reason?: string | undefined }) {
  if (!status) return null;
  const label = status === 'pending' && offline ? 'Queued' : LABEL[status];
  return (
    <span className={`status status-${status}`} data-status={status} title={reason ?? label}>
      <span aria-hidden="true">{ICON[status]}</span> {label}
    </span>
  );
}
