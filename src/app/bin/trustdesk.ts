#!/usr/bin/env node
// `trustdesk` executable. Compiled to dist/src/app/bin/trustdesk.js; runs on plain node.
import { processIo, runCli } from '../main.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
