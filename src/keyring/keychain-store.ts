// Secrets in the OS keychain (macOS Keychain, Windows Credential Manager, Secret Service on
// Linux) through @napi-rs/keyring, one short-lived helper process per operation.
//
// Why a helper process: @napi-rs/keyring connects to D-Bus synchronously, inside the Entry
// constructor, on the calling thread. A session bus that accepts the connection but never
// answers (a wedged daemon) blocks that thread for ever, and a native call cannot be
// interrupted. In a child process it can: every operation has a deadline, after which the child
// is killed and the caller gets ERR_KEYCHAIN_UNAVAILABLE. Nothing ever hangs.
//
// Rules enforced here:
// - Item = service "trustdesk" (configurable for tests), account = canonical key ID; the value
//   is the secret's base64 text (portable across all three keychains, readable by secret-tool).
// - Secrets cross the process boundary only through pipes (never argv or env) as raw bytes;
//   every Buffer that held one is zeroed once consumed. (The helper's strings die with it.)
// - `create` never overwrites an existing item (ERR_KEY_EXISTS): a private key and a wrapping
//   key must never clobber each other.
// - On Linux the Secret Service is required: the kernel keyutils fallback forgets everything
//   at reboot, which is no place for a private key.
// - Every failure to reach the store (no D-Bus session, no Secret Service, no default collection,
//   a locked collection whose unlock prompt cannot be shown, a timeout) is
//   ERR_KEYCHAIN_UNAVAILABLE with a one-line hint naming the fix.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { TrustdeskError } from '../tuf/errors.js';
import { throwIfAborted, wipe } from './types.js';

export const KEYCHAIN_SERVICE = 'trustdesk';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 30_000;
/** After this long without an answer the keychain is probably showing an unlock prompt. */
const SLOW_MS = 1_000;

// The helper: reads one JSON request line (+ raw secret bytes for "create") from stdin, answers
// with one JSON line (+ raw secret bytes for "get") on stdout. CommonJS, no dependencies.
const HELPER = `
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const buf = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  const nl = buf.indexOf(10);
  const out = (head, body) => {
    process.stdout.write(JSON.stringify(head) + '\\n');
    if (body) { process.stdout.write(Buffer.from(body)); body.fill(0); }
  };
  let req;
  try {
    req = JSON.parse(buf.subarray(0, nl).toString('utf8'));
    const { Entry } = require(req.module);
    const e = new Entry(req.service, req.account, { linux: { store: 'secret-service' } });
    if (req.op === 'get') {
      const v = e.getPassword();
      if (v === null) out({ ok: true, found: false });
      else out({ ok: true, found: true }, Buffer.from(v, 'base64'));
    } else if (req.op === 'create') {
      if (e.getPassword() !== null) out({ ok: false, kind: 'exists' });
      else { e.setPassword(buf.subarray(nl + 1).toString('base64')); out({ ok: true }); }
    } else if (req.op === 'delete') {
      out({ ok: true, found: e.deleteCredential() });
    } else {
      out({ ok: false, kind: 'error', message: 'unknown op ' + req.op });
    }
  } catch (err) {
    out({ ok: false, kind: 'error', message: String((err && err.message) || err) });
  } finally {
    buf.fill(0);
  }
});
`;

export interface KeychainStoreOptions {
  service?: string;
  /** Deadline per operation (default 30 s: long enough to type an unlock password). */
  timeoutMs?: number;
  /** Environment of the helper (D-Bus address etc.); undefined values are unset. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface KeychainCallOptions {
  signal?: AbortSignal;
  /** Called once if the keychain has not answered after a second (show "unlock it?"). */
  onSlow?: () => void;
}

interface HelperAnswer {
  ok: boolean;
  found?: boolean;
  kind?: 'exists' | 'error';
  message?: string;
}

/** The one-line fix for a keychain failure, from the platform's error text. */
export function keychainHint(
  message: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const alt = 'or use --backend file';
  if (process.platform === 'linux' && !env.DBUS_SESSION_BUS_ADDRESS) {
    return `No D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset): run in a desktop session, or start one with \`dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets <passfile; trustdesk …'\`, ${alt}.`;
  }
  if (/did not answer/.test(message)) {
    return `The keychain service did not answer: restart it (e.g. \`gnome-keyring-daemon --replace --components=secrets\`), ${alt}.`;
  }
  if (/dismissed|locked/i.test(message)) {
    return `The keyring is locked and cannot be unlocked from here: unlock it (log in to the desktop, or \`gnome-keyring-daemon --unlock\`), ${alt}.`;
  }
  if (/no result found|collection/i.test(message)) {
    return `The Secret Service has no default keyring: create and unlock one (\`gnome-keyring-daemon --unlock\` or Seahorse), ${alt}.`;
  }
  if (/D-?Bus|ServiceUnknown|org\.freedesktop\.secrets/i.test(message)) {
    return `No Secret Service on the session bus: start one (gnome-keyring-daemon --components=secrets, or KeePassXC), ${alt}.`;
  }
  return `Check the OS keychain is installed, running and unlocked, ${alt}.`;
}

export class KeychainStore {
  readonly service: string;
  readonly timeoutMs: number;
  readonly #env: Record<string, string | undefined>;
  readonly #module: string;

  constructor(opts: KeychainStoreOptions = {}) {
    this.service = opts.service ?? KEYCHAIN_SERVICE;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS;
    // NODE_OPTIONS could make the helper load a TS loader or worse; it needs nothing.
    this.#env = { ...process.env, ...opts.env, NODE_OPTIONS: undefined };
    this.#module = createRequire(import.meta.url).resolve('@napi-rs/keyring');
  }

  #unavailable(message: string, cause?: unknown): TrustdeskError {
    return new TrustdeskError('ERR_KEYCHAIN_UNAVAILABLE', `OS keychain: ${message}`, {
      hint: keychainHint(message, this.#env),
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** The secret stored for `account`, or null. The caller wipes it. */
  async get(account: string, call: KeychainCallOptions = {}): Promise<Uint8Array | null> {
    const { answer, body } = await this.#run('get', account, undefined, call);
    if (!answer.found) {
      wipe(body);
      return null;
    }
    return body;
  }

  /** Stores `secret` for `account`; ERR_KEY_EXISTS if there is already one. */
  async create(account: string, secret: Uint8Array, call: KeychainCallOptions = {}): Promise<void> {
    const { body } = await this.#run('create', account, secret, call);
    wipe(body);
  }

  /** Deletes the item; false if there was none. */
  async delete(account: string, call: KeychainCallOptions = {}): Promise<boolean> {
    const { answer, body } = await this.#run('delete', account, undefined, call);
    wipe(body);
    return answer.found === true;
  }

  #run(
    op: 'get' | 'create' | 'delete',
    account: string,
    secret: Uint8Array | undefined,
    call: KeychainCallOptions,
  ): Promise<{ answer: HelperAnswer; body: Uint8Array }> {
    throwIfAborted(call.signal);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', HELPER], {
        env: this.#env,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      const chunks: Buffer[] = [];
      let stderr = '';
      let failure: TrustdeskError | undefined;
      const stop = (err: TrustdeskError) => {
        failure ??= err;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () => stop(this.#unavailable(`did not answer within ${this.timeoutMs / 1000} s`)),
        this.timeoutMs,
      );
      const slow = call.onSlow ? setTimeout(call.onSlow, SLOW_MS) : undefined;
      const onAbort = () => stop(new TrustdeskError('ERR_ABORTED', 'keychain access cancelled'));
      call.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => {
        if (stderr.length < 4096) stderr += c.toString('utf8');
      });
      child.stdin.on('error', () => undefined); // a dead helper is reported by 'close'
      child.on('error', (e) => stop(this.#unavailable(`cannot start the helper: ${e.message}`, e)));
      child.on('close', (code) => {
        clearTimeout(timer);
        clearTimeout(slow);
        call.signal?.removeEventListener('abort', onAbort);
        const out = Buffer.concat(chunks);
        for (const c of chunks) c.fill(0);
        try {
          if (failure) throw failure;
          const nl = out.indexOf(10);
          if (nl === -1) {
            throw this.#unavailable(
              `helper exited (${String(code)}) without an answer: ${stderr.trim().split('\n')[0] ?? ''}`,
            );
          }
          const answer = JSON.parse(out.subarray(0, nl).toString('utf8')) as HelperAnswer;
          if (answer.kind === 'exists') {
            throw new TrustdeskError(
              'ERR_KEY_EXISTS',
              `the OS keychain already holds ${this.service}/${account}`,
            );
          }
          if (!answer.ok) throw this.#unavailable(answer.message ?? 'unknown error');
          resolve({ answer, body: new Uint8Array(out.subarray(nl + 1)) });
        } catch (e) {
          reject(e instanceof TrustdeskError ? e : this.#unavailable(String(e), e));
        } finally {
          out.fill(0);
        }
      });
      const head = Buffer.from(
        JSON.stringify({ op, service: this.service, account, module: this.#module }) + '\n',
      );
      const data = secret ? Buffer.concat([head, secret]) : head;
      child.stdin.end(data, () => wipe(data));
    });
  }
}
