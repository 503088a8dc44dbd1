#!/usr/bin/env node
// `trustdesk` executable. Compiled to dist/src/app/bin/trustdesk.js; runs on plain node.
import { setFlagsFromString } from 'node:v8';
import { processIo, runCli } from '../main.js';

// undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it with its baseline
// compiler and then, on background threads, again with its optimising one — and a process
// cannot exit before those background jobs finish: ~60–80 ms after the last byte of every
// command that went online, for code that parses a handful of small responses. The baseline
// code is all a CLI process needs. (Only affects WebAssembly compiled after this line.)
setFlagsFromString('--liftoff-only');

process.exitCode = await runCli(process.argv.slice(2), processIo());
