// Audit events (SECURITY.md R11) and clock-health events, on node:diagnostics_channel.
//
// diagnostics_channel costs nothing when nobody subscribes (one `hasSubscribers` check per
// batch), lets any number of consumers (a log, metrics, a SIEM shipper) listen without the
// verifier knowing them, and is how Node's own modules publish events. An event names the
// account, never the code or the secret.
//
// @example
// import diagnostics_channel from 'node:diagnostics_channel';
// diagnostics_channel.subscribe('totp-fleet:audit', (event) => log.info(event));

import diagnostics_channel from 'node:diagnostics_channel';

/** Channel of per-account verification events: `AuditEvent`. */
export const AUDIT_CHANNEL = 'totp-fleet:audit';
/** Channel of clock-health changes: `ClockEvent`. */
export const CLOCK_CHANNEL = 'totp-fleet:clock';

/** One verification of an account, as an audit trail sees it. */
export interface AuditEvent {
  type: 'valid' | 'invalid' | 'replayed' | 'locked' | 'error';
  account: string;
  /** Name of the verifier that published it (option `name`). */
  verifier: string;
  /** When it was decided, ms since the epoch. */
  time: number;
  /** valid: the matched step minus the server's current step. */
  delta?: number;
  /** invalid: this failure reached the limit and locked the account. */
  lockedNow?: boolean;
  /** locked: ms until another attempt may be made. */
  retryAfterMs?: number;
  /** error: 'store' or 'internal'. */
  reason?: string;
  /** How the account proved itself, when not by a TOTP code. */
  method?: 'hotp' | 'hotp-resync' | 'backup-code';
}

export const auditChannel = diagnostics_channel.channel(AUDIT_CHANNEL);
export const clockChannel = diagnostics_channel.channel(CLOCK_CHANNEL);

/** Publishes an audit event from the verifier named `verifier`, if anybody listens. */
export function audit(verifier: string, event: Omit<AuditEvent, 'verifier' | 'time'>): void {
  if (auditChannel.hasSubscribers) auditChannel.publish({ ...event, verifier, time: Date.now() });
}
