// `trustdesk agent start|run|status|stop|forget` (docs/agent-protocol.md).
//   start   spawns `node <this CLI> agent run …` detached, its stderr in agent.log (0600) beside
//           the socket, and returns once the new agent answers `status` — or fails with the
//           log's last lines when it dies or does not answer in time;
//   run     the agent in this process until SIGTERM/SIGINT or `agent stop`;
//   status / stop / forget   control requests to a running agent.

import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TrustdeskError } from '../../tuf/errors.js';
import type { CommandResult, Context, ParsedArgs } from '../context.js';
import { packageVersion } from '../version.js';
import { buildIdOf } from '../../agent/build-id.js';
import { checkAgentSocket, controlRequest } from '../../agent/client.js';
import type { AgentStatus } from '../../agent/server.js';
import {
  agentDisabled,
  checkSocketPathLength,
  logFileOf,
  pidFileOf,
  prepareSocketDir,
  resolveSocketPath,
} from '../../agent/socket-path.js';
import { AGENT_SUBCOMMANDS, type AgentSubcommand } from './agent-spec.js';

/** How long `agent start` waits for the new agent to answer. */
const START_LIMIT_MS = 20_000;
/** How long `agent stop` waits for the socket to go (the agent lets commands finish first). */
const STOP_LIMIT_MS = 60_000;
const POLL_MS = 50;
const LOG_TAIL_LINES = 15;

const DEFAULT_TTL_S = 600;
const DEFAULT_MAX_TTL_S = 7200;

/** Variables the agent process itself never needs: it runs each command with its caller's. */
const SECRET_ENV = /PASSPHRASE|PASSWORD|SECRET|TOKEN|_PIN$|^NOTARY_AUTH$/i;

function opt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function socketOf(ctx: Context, args: ParsedArgs): string {
  const given = opt(args, 'socket');
  const path =
    given !== undefined ? resolve(ctx.io.cwd, given) : resolveSocketPath(ctx.io.env, ctx.io.cwd);
  checkSocketPathLength(path);
  return path;
}

function seconds(args: ParsedArgs, name: string, dflt: number): number {
  const v = opt(args, name);
  if (v === undefined) return dflt;
  if (!/^[1-9][0-9]{0,8}$/.test(v))
    throw new TrustdeskError('ERR_USAGE', `--${name} must be a whole number of seconds (>= 1)`);
  return Number(v);
}

function ttls(args: ParsedArgs): { ttlS: number; maxTtlS: number } {
  const ttlS = seconds(args, 'cache-ttl', DEFAULT_TTL_S);
  const maxTtlS = seconds(args, 'max-cache-ttl', Math.max(DEFAULT_MAX_TTL_S, ttlS));
  if (ttlS > maxTtlS)
    throw new TrustdeskError('ERR_USAGE', '--cache-ttl must not be longer than --max-cache-ttl');
  return { ttlS, maxTtlS };
}

function noCacheOptions(args: ParsedArgs, sub: string): void {
  for (const name of ['cache-ttl', 'max-cache-ttl'])
    if (args.values[name] !== undefined)
      throw new TrustdeskError('ERR_USAGE', `agent ${sub} does not take --${name}`, {
        hint: 'Run `trustdesk agent --help`.',
      });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A word the shell takes literally. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const shown = parts.filter(([n]) => n > 0).slice(0, 2);
  return shown.length ? shown.map(([n, u]) => `${n}${u}`).join(' ') : '0s';
}

export async function runAgent(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const sub = args.positionals[0] ?? '';
  if (!(AGENT_SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new TrustdeskError('ERR_USAGE', `unknown agent subcommand ${JSON.stringify(sub)}`, {
      hint: `Use one of: ${AGENT_SUBCOMMANDS.join(', ')} (trustdesk agent --help).`,
    });
  }
  switch (sub as AgentSubcommand) {
    case 'start':
      return start(ctx, args);
    case 'run':
      return run(ctx, args);
    case 'status':
      return status(ctx, args);
    case 'stop':
      return stop(ctx, args);
    case 'forget':
      return forget(ctx, args);
  }
}

// status / stop / forget --------------------------------------------------------------------

async function status(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  noCacheOptions(args, 'status');
  const path = socketOf(ctx, args);
  await checkAgentSocket(path);
  const st = (await controlRequest(path, 'status')) as unknown as AgentStatus;
  const cache = st.cache as { entries?: number; hits?: number; misses?: number };
  return {
    json: { agent: st },
    text: () =>
      [
        `trustdesk agent ${st.version} (build ${st.build}), pid ${st.pid}`,
        `  socket:     ${st.socket}`,
        `  started:    ${st.startedAt} (up ${duration(st.uptimeMs)})`,
        `  commands:   ${st.commandsRun} run, ${st.running} running`,
        `  key cache:  ${cache.entries ?? 0} derivation${cache.entries === 1 ? '' : 's'}` +
          (cache.hits !== undefined ? ` (${cache.hits} hits, ${cache.misses ?? 0} misses)` : ''),
      ].join('\n'),
  };
}

async function stop(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  noCacheOptions(args, 'stop');
  const path = socketOf(ctx, args);
  await checkAgentSocket(path);
  const reply = await controlRequest(path, 'stop');
  const deadline = ctx.io.nowMs() + STOP_LIMIT_MS;
  const pidFile = pidFileOf(path);
  for (;;) {
    // The agent removes its pid file last, once its commands have finished.
    const pid = await readFile(pidFile, 'utf8').catch(() => undefined);
    if (pid !== `${String(reply.pid)}\n`) break;
    if (ctx.io.nowMs() > deadline)
      throw new TrustdeskError(
        'ERR_AGENT_FAILED',
        `the agent (pid ${String(reply.pid)}) did not stop within ${STOP_LIMIT_MS / 1000} s`,
      );
    await sleep(POLL_MS);
  }
  return {
    json: { stopped: true, pid: reply.pid, socket: path },
    text: () => `Stopped the trustdesk agent (pid ${String(reply.pid)}) on ${path}`,
  };
}

async function forget(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  noCacheOptions(args, 'forget');
  const path = socketOf(ctx, args);
  await checkAgentSocket(path);
  const reply = await controlRequest(path, 'forget');
  const n = typeof reply.forgotten === 'number' ? reply.forgotten : 0;
  return {
    json: { forgotten: n, socket: path },
    text: () => `Forgot ${n} cached key derivation${n === 1 ? '' : 's'}`,
  };
}

// run ---------------------------------------------------------------------------------------

async function run(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const path = socketOf(ctx, args);
  const { ttlS, maxTtlS } = ttls(args);
  const { configureDerivedKeyCache } = await import('../../keyring/derived-key-cache.js');
  configureDerivedKeyCache({ ttlMs: ttlS * 1000, maxTtlMs: maxTtlS * 1000, enabled: true });
  const { AgentServer } = await import('../../agent/server.js');
  const log = (line: string) =>
    ctx.io.stderr.write(`${new Date(ctx.io.nowMs()).toISOString()} ${line}\n`);
  const entry = process.argv[1] ?? '';
  const server = await AgentServer.start({
    socketPath: path,
    buildId: await buildIdOf(entry),
    version: packageVersion(),
    log,
  });
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping`);
    void server.stop();
  };
  // One command's stray rejection must not take every caller's command down with the process.
  const onRejection = (e: unknown) =>
    log(`unhandled rejection: ${e instanceof Error ? e.message : String(e)}`);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onRejection);
  try {
    await server.closed;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('unhandledRejection', onRejection);
  }
  return { json: { stopped: true, socket: path, pid: process.pid }, text: () => '' };
}

// start -------------------------------------------------------------------------------------

async function logTail(file: string): Promise<string> {
  try {
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '';
  }
}

function failed(message: string, tail: string): TrustdeskError {
  return new TrustdeskError(
    'ERR_AGENT_FAILED',
    tail ? `${message}; its log ends:\n${tail}` : message,
  );
}

async function answers(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    await checkAgentSocket(path);
    return await controlRequest(path, 'status', 2_000);
  } catch (e) {
    if (e instanceof TrustdeskError && e.code === 'ERR_AGENT_NOT_RUNNING') return undefined;
    throw e;
  }
}

async function start(ctx: Context, args: ParsedArgs): Promise<CommandResult> {
  const path = socketOf(ctx, args);
  const { ttlS, maxTtlS } = ttls(args);
  await prepareSocketDir(dirname(path));
  const live = await answers(path);
  if (live !== undefined) {
    throw new TrustdeskError(
      'ERR_AGENT_RUNNING',
      `an agent is already running on ${path} (pid ${String(live.pid)})`,
    );
  }
  const logFile = logFileOf(path);
  const log = await open(logFile, 'w', 0o600);
  let child;
  try {
    await log.chmod(0o600);
    const env = Object.fromEntries(
      Object.entries(ctx.io.env).filter(([k, v]) => v !== undefined && !SECRET_ENV.test(k)),
    );
    const argv = [
      ...process.execArgv,
      // A long-lived process parsing multi-MB metadata: a larger young generation means fewer
      // scavenges per command (~10% on a 10,000-target list).
      '--max-semi-space-size=32',
      process.argv[1] ?? '',
      'agent',
      'run',
      '--socket',
      path,
      '--cache-ttl',
      String(ttlS),
      '--max-cache-ttl',
      String(maxTtlS),
    ];
    child = spawn(process.execPath, argv, {
      cwd: ctx.io.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'ignore', log.fd],
    });
  } finally {
    await log.close();
  }
  let exited: string | undefined;
  child.once(
    'exit',
    (code, sig) => (exited = sig ? `was killed by ${sig}` : `exited with ${code}`),
  );
  child.once('error', (e) => (exited = `could not be started: ${e.message}`));
  const deadline = ctx.io.nowMs() + START_LIMIT_MS;
  let st: Record<string, unknown> | undefined;
  for (;;) {
    if (exited !== undefined) throw failed(`the agent ${exited}`, await logTail(logFile));
    st = await answers(path).catch(() => undefined);
    if (st !== undefined && st.pid === child.pid) break;
    if (ctx.io.nowMs() > deadline) {
      child.kill('SIGTERM');
      throw failed(
        `the agent did not answer within ${START_LIMIT_MS / 1000} s`,
        await logTail(logFile),
      );
    }
    await sleep(POLL_MS);
  }
  child.unref();
  const started = st;
  const isDefault = path === resolveSocketPath(ctx.io.env, ctx.io.cwd);
  const exportLine = `export TRUSTDESK_AGENT_SOCK=${shellQuote(path)}`;
  const disabled = agentDisabled(ctx.io.env);
  return {
    json: {
      started: true,
      pid: started.pid,
      build: started.build,
      version: started.version,
      socket: path,
      log: logFile,
      defaultSocket: isDefault,
      ...(isDefault ? {} : { export: exportLine }),
    },
    text: () =>
      [
        `Started the trustdesk agent (pid ${String(started.pid)}) on ${path}`,
        `Its log: ${logFile}`,
        ...(isDefault
          ? []
          : ['Not the default socket: tell trustdesk where it is with', exportLine]),
        ...(disabled
          ? ['Note: TRUSTDESK_NO_AGENT is set, so this shell does not use the agent.']
          : []),
      ].join('\n'),
  };
}
