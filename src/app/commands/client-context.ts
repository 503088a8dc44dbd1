// Shared plumbing of the repository commands (init, add, publish, list, …): the client config
// (-c, -s, -d, --tlscacert/--tlscert/--tlskey, notary-protocol §7.1), the server (created only by
// commands that may go online, so staging commands never load the HTTP stack), the keyring
// (opened only when a key is needed), the prompter, and how progress events are shown:
//   - warnings (expiry, cached timestamp, skipped delegations) always go to stderr as
//     `warning [CODE]: …`, and into the --json document's `warnings`;
//   - steps and HTTP requests only with -v.
// Confirmations in script mode (no terminal): --yes, or one line on stdin — `yes`/`y` (what
// `echo yes | notary key rotate …` sends) or the GUN itself; anything else, end of input, or
// no answer within CONFIRM_WAIT_MS declines. Nothing ever waits for a terminal that is not there.

import { resolve } from 'node:path';
import { TrustdeskError, type ErrorCode } from '../../tuf/errors.js';
import {
  loadClientConfig,
  readTrustPinning,
  type ClientConfig,
} from '../../client/config/client-config.js';
import type { Access } from '../../client/remote/auth.js';
import type { RemoteServer } from '../../client/remote/remote-store.js';
import { checkGun } from '../../client/trust-dir/gun.js';
import {
  Repository,
  type ClientEvent,
  type InitOptions,
  type RotateOptions,
  type Signal,
} from '../../client/repository.js';
import type { Keyring } from '../../keyring/keyring.js';
import type {
  ConfirmRequest,
  PassphraseRequest,
  PinRequest,
  Prompter,
  PrompterNotice,
} from '../../keyring/types.js';
import type { Context, Io, ParsedArgs } from '../context.js';

/** How long a script-mode confirmation waits for its line on stdin. */
export const CONFIRM_WAIT_MS = 30_000;

export function opt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    return typeof last === 'string' ? last : undefined;
  }
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A repeatable, comma-separated option (Go's StringSlice): `-r a,b -r c` → [a, b, c]. */
export function list(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  return items.flatMap((x) => x.split(',')).map((x) => x.trim());
}

export function gunArg(args: ParsedArgs, index = 0): string {
  const gun = args.positionals[index];
  if (gun === undefined) throw new TrustdeskError('ERR_USAGE', 'give the GUN of the repository');
  return checkGun(gun);
}

export async function loadConfig(ctx: Context, args: ParsedArgs): Promise<ClientConfig> {
  const flags = {
    configFile: opt(args, 'configFile'),
    server: opt(args, 'server'),
    trustDir: opt(args, 'trustDir'),
    tlsCaCert: opt(args, 'tlscacert'),
    tlsCert: opt(args, 'tlscert'),
    tlsKey: opt(args, 'tlskey'),
  };
  return loadClientConfig({
    flags: Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
    env: ctx.io.env,
    cwd: ctx.io.cwd,
  });
}

// ---------------------------------------------------------------------------------------------
// Prompter

/** Reads one line from the Io's stdin (undefined at end of input or after `waitMs`). */
export function readStdinLine(io: Io, waitMs: number): Promise<string | undefined> {
  const stdin = io.stdin;
  if (!stdin) return Promise.resolve(undefined);
  return new Promise((resolveLine) => {
    let buf = '';
    const done = (line: string | undefined) => {
      clearTimeout(timer);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      stdin.pause();
      resolveLine(line);
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.search(/\r?\n/);
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf === '' ? undefined : buf);
    const timer = setTimeout(() => done(undefined), waitMs);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onEnd);
    stdin.resume();
  });
}

/**
 * The commands' prompter: secrets from env/files (then the terminal, when there is one) as the
 * key commands get them; confirmations as described at the top of this file.
 */
export class ClientPrompter implements Prompter {
  constructor(
    readonly inner: Prompter,
    readonly io: Io,
    readonly o: { assumeYes: boolean; interactive: boolean; gun?: string },
  ) {}

  get unattended(): boolean {
    return this.inner.unattended === true;
  }

  passphrase(req: PassphraseRequest): Promise<string> {
    return this.inner.passphrase(req);
  }

  pin(req: PinRequest): Promise<string> {
    return this.inner.pin(req);
  }

  notice(n: PrompterNotice): void {
    this.inner.notice(n);
  }

  async confirm(req: ConfirmRequest): Promise<boolean> {
    if (this.o.assumeYes) return true;
    if (this.o.interactive) return this.inner.confirm(req);
    this.io.stderr.write(
      `${req.message}\nConfirm with "yes"${this.o.gun ? ` or the GUN (${this.o.gun})` : ''} on stdin, or pass --yes: `,
    );
    const line = await readStdinLine(this.io, CONFIRM_WAIT_MS);
    this.io.stderr.write('\n');
    const answer = (line ?? '').trim();
    if (answer === '' && line === undefined) {
      throw new TrustdeskError(
        'ERR_ABORTED',
        `not confirmed (no answer on stdin): ${req.message}`,
        {
          hint: 'Pass --yes, or pipe the confirmation: echo yes | trustdesk …',
        },
      );
    }
    return /^(y|yes)$/i.test(answer) || (this.o.gun !== undefined && answer === this.o.gun);
  }
}

async function basePrompter(ctx: Context, args: ParsedArgs): Promise<Prompter> {
  const { makePrompter } = await import('./key-context.js');
  return makePrompter(ctx, args);
}

// ---------------------------------------------------------------------------------------------
// Events

export interface Warning {
  code: ErrorCode;
  message: string;
  role?: string;
}

/** Collects warnings for --json and prints what the user should see now on stderr. */
export class EventSink {
  readonly warnings: Warning[] = [];

  constructor(readonly ctx: Context) {}

  readonly handle = (e: ClientEvent): void => {
    const err = this.ctx.io.stderr;
    switch (e.type) {
      case 'warning':
        this.warnings.push({
          code: e.code,
          message: e.message,
          ...(e.role ? { role: e.role } : {}),
        });
        if (!this.ctx.json) err.write(`warning [${e.code}]: ${e.message}\n`);
        return;
      case 'expiry': {
        const message = e.expired
          ? `${e.role} expired at ${e.expires}; the owner must re-sign it`
          : `${e.role} expires at ${e.expires} (in ${Math.floor(e.leftMs / 86_400_000)} days); re-sign it (publish or witness) before then`;
        this.warnings.push({ code: 'ERR_EXPIRED', message, role: e.role });
        if (!this.ctx.json) err.write(`warning [ERR_EXPIRED]: ${message}\n`);
        return;
      }
      case 'step':
        if (this.ctx.verbose && !this.ctx.json) err.write(`${e.message}\n`);
        return;
      case 'key-generated':
        if (this.ctx.verbose && !this.ctx.json) err.write(`generated ${e.role} key ${e.keyId}\n`);
        return;
      case 'http':
        if (this.ctx.verbose && !this.ctx.json)
          err.write(`${e.method} ${e.url} → ${e.status ?? e.error ?? '?'}\n`);
        return;
      default:
        return;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Session

export interface SessionOptions {
  /** May talk to the server (creates the HTTP client). */
  online: boolean;
  /** The GUN a confirmation may be answered with. */
  gun?: string;
}

/** Everything a repository command needs; close() releases the server and the keyring. */
export class ClientSession {
  readonly events: EventSink;
  #server: RemoteServer | undefined;
  #keyring: Promise<Keyring> | undefined;

  private constructor(
    readonly ctx: Context,
    readonly args: ParsedArgs,
    readonly config: ClientConfig,
    server: RemoteServer | undefined,
    readonly gun: string | undefined,
  ) {
    this.events = new EventSink(ctx);
    this.#server = server;
  }

  static async open(ctx: Context, args: ParsedArgs, o: SessionOptions): Promise<ClientSession> {
    const config = await loadConfig(ctx, args);
    let server: RemoteServer | undefined;
    const session = new ClientSession(ctx, args, config, undefined, o.gun);
    // Staging commands go online only to auto-publish (-p).
    if ((o.online || flag(args, 'publish')) && !flag(args, 'offline')) {
      const { RemoteServer } = await import('../../client/remote/remote-store.js');
      server = await RemoteServer.fromConfig(config, {
        env: ctx.io.env,
        nowMs: () => ctx.io.nowMs(),
        onEvent: session.events.handle,
      });
      session.#server = server;
    }
    return session;
  }

  get offline(): boolean {
    return flag(this.args, 'offline');
  }

  keyring(): Promise<Keyring> {
    this.#keyring ??= (async () => {
      const inner = await basePrompter(this.ctx, this.args);
      const prompter = new ClientPrompter(inner, this.ctx.io, {
        assumeYes: flag(this.args, 'yes'),
        interactive: this.ctx.interactive,
        ...(this.gun !== undefined ? { gun: this.gun } : {}),
      });
      const { openKeyringAt } = await import('./key-context.js');
      return openKeyringAt(this.ctx, this.config.trustDir, prompter);
    })();
    return this.#keyring;
  }

  repository(gun: string): Repository {
    const server = this.#server;
    const signal = this.ctx.io.signal;
    return new (signal ? cancellable(signal) : Repository)({
      gun,
      trustDir: this.config.trustDir,
      keyring: () => this.keyring(),
      ...(server ? { remote: (access: Access) => server.repository(gun, access) } : {}),
      offline: this.offline,
      pinning: () => readTrustPinning(this.config),
      nowMs: () => this.ctx.io.nowMs(),
      onEvent: this.events.handle,
    });
  }

  async close(): Promise<void> {
    await this.#server?.close();
    if (this.#keyring) {
      try {
        await (await this.#keyring).close();
      } catch {
        // the keyring never opened; nothing to release
      }
    }
  }
}

/**
 * A Repository whose online operations take the Io's signal unless given one (the agent cancels
 * a command whose caller went away; the commands themselves need not know).
 */
function cancellable(signal: AbortSignal): typeof Repository {
  const o = <T extends Signal>(opts: T | undefined): T =>
    ({ ...opts, signal: opts?.signal ?? signal }) as T;
  return class extends Repository {
    override init(opts?: InitOptions) {
      return super.init(o(opts));
    }
    override publish(opts?: Signal) {
      return super.publish(o(opts));
    }
    override rotateKey(role: string, opts?: RotateOptions) {
      return super.rotateKey(role, o(opts));
    }
    override delete(opts?: { remote?: boolean } & Signal) {
      return super.delete(o(opts));
    }
    // list, lookup, verify and delegations go through update.
    override update(opts?: Signal) {
      return super.update(o(opts));
    }
  };
}

/** Runs `fn` with a session and always closes it. */
export async function withSession<T>(
  ctx: Context,
  args: ParsedArgs,
  o: SessionOptions,
  fn: (s: ClientSession) => Promise<T>,
): Promise<T> {
  const s = await ClientSession.open(ctx, args, o);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** A path given on the command line, relative to the working directory. */
export function cliPath(ctx: Context, p: string): string {
  return resolve(ctx.io.cwd, p);
}
