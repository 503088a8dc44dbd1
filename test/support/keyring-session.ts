// A private D-Bus session with gnome-keyring's Secret Service for keychain tests
// (toolchain.md's headless recipe), started from inside a test process.
//
// `dbus-run-session` runs a small shell script that starts `gnome-keyring-daemon --foreground`
// (with `--unlock` from a password on stdin, or without it: no login collection), waits until
// org.freedesktop.secrets is on the bus, prints the bus address, then blocks reading its stdin.
// `stop()` closes that stdin: the script kills the daemon and exits, and dbus-run-session tears
// the bus down. If the test process dies instead, the pipe closes just the same, so no daemon
// is left behind. Keyring files live in a temp XDG_DATA_HOME, never the real home.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './services.js';

export function hasKeyringTools(): boolean {
  return ['dbus-run-session', 'dbus-send', 'gnome-keyring-daemon'].every(
    (x) => findExecutable(x) !== undefined,
  );
}

const SCRIPT = `
if [ "$KR_MODE" = unlocked ]; then
  printf %s "$KR_PASS" | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
else
  gnome-keyring-daemon --foreground --components=secrets </dev/null >/dev/null 2>&1 &
fi
kr=$!
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \\
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; do
  i=$((i+1))
  if [ $i -gt 200 ]; then echo "gnome-keyring did not start" >&2; kill $kr; exit 1; fi
  sleep 0.05
done
echo "ADDRESS $DBUS_SESSION_BUS_ADDRESS"
read _ignored || true
kill $kr 2>/dev/null
wait $kr 2>/dev/null
exit 0
`;

export type KeyringMode = 'unlocked' | 'no-collection';

export class KeyringSession {
  private constructor(
    readonly address: string,
    readonly dir: string,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly exited: Promise<void>,
  ) {}

  /** Environment for code that should talk to this session's Secret Service. */
  get env(): Record<string, string | undefined> {
    return { DBUS_SESSION_BUS_ADDRESS: this.address };
  }

  static async start(mode: KeyringMode = 'unlocked'): Promise<KeyringSession> {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-keyring-'));
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    const child = spawn('dbus-run-session', ['--', 'sh', '-c', SCRIPT], {
      env: {
        ...process.env,
        DBUS_SESSION_BUS_ADDRESS: undefined,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_RUNTIME_DIR: join(dir, 'run'),
        KR_MODE: mode,
        KR_PASS: 'test-keyring-pass',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^ADDRESS (\S+)$/m.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.on('close', (code) =>
        reject(new Error(`keyring session exited (${String(code)}) before starting: ${stderr}`)),
      );
    });
    return new KeyringSession(address, dir, child, exited);
  }

  /** Locks the default (login) collection, as a screen lock would. */
  lockLogin(): void {
    const r = spawnSync(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.secrets',
        '/org/freedesktop/secrets',
        'org.freedesktop.Secret.Service.Lock',
        'array:objpath:/org/freedesktop/secrets/collection/login',
      ],
      { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: this.address }, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`locking the login collection failed: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
