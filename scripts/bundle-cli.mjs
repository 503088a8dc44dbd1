#!/usr/bin/env node
// After `tsc`: bundles the trustdesk CLI (dist/src/app/bin/trustdesk.js and everything it
// imports: our modules, the undici files of the HTTP transport, @scure/bip39) into that one
// file, in place. A CLI process starts for every command; loading ~70 ES modules and undici's
// ~25 CommonJS files one by one cost each online command ~30–40 ms more CPU than one file does.
// Rules:
// - Modules reached through `await import()` stay lazy: esbuild evaluates them on first use, so
//   a command still runs only the code it needs. Packages are inlined rather than left external
//   because an external package imported statically anywhere becomes a static import of the
//   whole bundle, i.e. loaded by every command (Ink and React for the TUI must stay behind an
//   `await import()` for the same reason).
// - Native addons (argon2, pkcs11js, the keychain) are loaded with createRequire at their point
//   of use, which esbuild leaves alone: they still load from node_modules.
// - The rest of dist/ is tsc's output, unchanged (the server and signer bins).
import { build } from 'esbuild';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'app', 'bin', 'trustdesk.js');

await build({
  entryPoints: [cli],
  outfile: cli,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The inlined CommonJS code requires Node built-ins: give the ES module a `require`.
  banner: {
    js: "import { createRequire as __trustdeskRequire } from 'node:module';\nconst require = __trustdeskRequire(import.meta.url);",
  },
  // Maps back to src/*.ts through tsc's own maps.
  sourcemap: true,
  logLevel: 'warning',
});
