#!/usr/bin/env node
// Entry point of the trustdesk-server binary (package.json "bin"); see main.ts for the commands.

import { runCli } from './main.js';

const code = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  onSignal: (handler) => {
    process.on('SIGTERM', () => handler('SIGTERM'));
    process.on('SIGINT', () => handler('SIGINT'));
  },
  exit: (c) => process.exit(c),
});
process.exitCode = code;
