// Where the agent listens (docs/agent-protocol.md, "Socket location") and the checks on its
// directory. The request carries the caller's environment, passphrases included, so the socket
// must be reachable by its user only: its directory is a real directory (not a symlink) owned by
// the user with no group/other permission bits — the launcher checks the same before it connects.

import { lstat, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TrustdeskError } from '../tuf/errors.js';

export const SOCKET_NAME = 'agent.sock';
export const PID_FILE = 'agent.pid';
export const LOG_FILE = 'agent.log';
/** sun_path holds 108 bytes on Linux (104 on the BSDs), the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 103;

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

/** TRUSTDESK_NO_AGENT set and non-empty: the launcher never uses an agent. */
export function agentDisabled(env: Env): boolean {
  return set(env.TRUSTDESK_NO_AGENT);
}

export function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/**
 * The socket path: TRUSTDESK_AGENT_SOCK (relative to `cwd` if relative, as connect(2) would take
 * it), else $XDG_RUNTIME_DIR/trustdesk/agent.sock when that is absolute, else
 * /tmp/trustdesk-<uid>/agent.sock.
 */
export function resolveSocketPath(env: Env, cwd: string, uid: number = currentUid()): string {
  if (set(env.TRUSTDESK_AGENT_SOCK)) return resolve(cwd, env.TRUSTDESK_AGENT_SOCK);
  const xdg = env.XDG_RUNTIME_DIR;
  if (set(xdg) && isAbsolute(xdg)) return join(xdg, 'trustdesk', SOCKET_NAME);
  return join('/tmp', `trustdesk-${uid}`, SOCKET_NAME);
}

export function pidFileOf(socketPath: string): string {
  return join(dirname(socketPath), PID_FILE);
}

export function logFileOf(socketPath: string): string {
  return join(dirname(socketPath), LOG_FILE);
}

function unsafe(dir: string, why: string): TrustdeskError {
  return new TrustdeskError('ERR_AGENT_SOCKET', `the agent directory ${dir} ${why}`);
}

export function checkSocketPathLength(socketPath: string): void {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new TrustdeskError(
      'ERR_AGENT_SOCKET',
      `the agent socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${socketPath}`,
      {
        hint: 'Unix sockets need a short path: choose a shorter --socket or TRUSTDESK_AGENT_SOCK.',
      },
    );
  }
}

/**
 * Checks the socket's directory without creating it: 'missing' when it does not exist, 'ok' when
 * it is safe; throws ERR_AGENT_SOCKET when it is anything else.
 */
export async function checkSocketDir(
  dir: string,
  uid: number = currentUid(),
): Promise<'missing' | 'ok'> {
  let st;
  try {
    st = await lstat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new TrustdeskError('ERR_AGENT_SOCKET', `cannot read ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (st.isSymbolicLink()) throw unsafe(dir, 'is a symbolic link');
  if (!st.isDirectory()) throw unsafe(dir, 'is not a directory');
  if (st.uid !== uid) throw unsafe(dir, `is owned by uid ${st.uid}, not by you (uid ${uid})`);
  if ((st.mode & 0o077) !== 0)
    throw unsafe(dir, `is accessible to others (mode ${(st.mode & 0o777).toString(8)})`);
  return 'ok';
}

/** Creates the socket's directory (mode 0700) or checks the existing one (checkSocketDir). */
export async function prepareSocketDir(dir: string, uid: number = currentUid()): Promise<void> {
  if ((await checkSocketDir(dir, uid)) === 'ok') return;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new TrustdeskError('ERR_AGENT_SOCKET', `cannot create ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // Created by us — or by someone else in between: check it whoever made it.
  if ((await checkSocketDir(dir, uid)) !== 'ok') throw unsafe(dir, 'vanished while created');
}
