// What an update reports while it runs (the TUI shows progress, script mode prints warnings).

import type { ErrorCode } from '../../tuf/errors.js';
import type { RemoteEvent } from '../remote/remote-store.js';

export type UpdateEvent =
  /** A file came from the server (its name as requested, without `.json`). */
  | { type: 'fetched'; name: string; bytes: number }
  /** A role was verified and is now trusted. */
  | { type: 'verified'; role: string; version: number; source: 'remote' | 'cache' }
  /** Something the user should know that did not stop the update. */
  | { type: 'warning'; code: ErrorCode; message: string; role?: string }
  /** The first attempt failed; the root is refreshed and the update retried once (§7.6 step 4). */
  | { type: 'retrying'; code: ErrorCode; message: string }
  | { type: 'root-updated'; from: number; to: number }
  /** A role expires within six months (or has expired): time left in ms (negative if past). */
  | { type: 'expiry'; role: string; expires: string; leftMs: number; expired: boolean }
  | RemoteEvent;
