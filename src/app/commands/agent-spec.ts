// The `trustdesk agent …` entry of the command table. Kept free of heavy imports: the handler
// loads src/agent on first use.

import type { CommandSpec } from '../commands.js';

export const AGENT_SUBCOMMANDS = ['start', 'run', 'status', 'stop', 'forget'] as const;
export type AgentSubcommand = (typeof AGENT_SUBCOMMANDS)[number];

export const AGENT_COMMAND: CommandSpec = {
  name: 'agent',
  summary:
    'a per-user background process that runs commands faster: start, run, status, stop, forget',
  usage: `agent <${AGENT_SUBCOMMANDS.join('|')}> [--socket <path>] [--cache-ttl <seconds>] [--max-cache-ttl <seconds>]`,
  details: [
    'agent start    start the agent in the background (its log: agent.log beside the socket)',
    'agent run      run the agent in the foreground (SIGTERM or Ctrl-C stops it)',
    'agent status   show what the agent is doing',
    'agent stop     stop it (running commands finish first)',
    'agent forget   drop the key-file derivations it keeps',
    '',
    'With an agent running, the `trustdesk` launcher hands each command to it instead of starting',
    'Node, and key files unlocked within --cache-ttl seconds (idle; at most --max-cache-ttl after',
    'the first unlock) skip their key derivation. Passphrases are still needed every time: the',
    'agent keeps derived keys in memory only, never passphrases or decrypted keys on disk.',
    'Commands that need a terminal (no --script with stdin a terminal), `demo` and `agent` run in',
    'their own process as before. TRUSTDESK_NO_AGENT=1 turns the agent off for a shell.',
    '',
    'Socket: --socket, else TRUSTDESK_AGENT_SOCK, else $XDG_RUNTIME_DIR/trustdesk/agent.sock,',
    'else /tmp/trustdesk-<uid>/agent.sock; its directory must be yours with mode 0700.',
  ],
  positionals: { min: 1, max: 1 },
  options: {
    socket: { type: 'string', value: '<path>', description: 'the socket to listen on / talk to' },
    'cache-ttl': {
      type: 'string',
      value: '<seconds>',
      description: 'start/run: forget a key derivation unused this long (default 600)',
    },
    'max-cache-ttl': {
      type: 'string',
      value: '<seconds>',
      description: 'start/run: forget a key derivation this long after it was made (default 7200)',
    },
  },
  handler: async (ctx, args) => (await import('./agent.js')).runAgent(ctx, args),
};
