// A throwaway SoftHSM2 token store per test file (toolchain.md recipe): a temp tokendir and
// softhsm2.conf, SOFTHSM2_CONF set in this process (SoftHSM reads it at C_Initialize, so create
// the store before the module is first opened), tokens made with softhsm2-util.
//
// SoftHSM moves every initialised token to a new, random-looking slot ID, which is exactly why
// trustdesk selects tokens by label/serial. It never locks a PIN (no retry counter; it only
// sets CKF_USER_PIN_COUNT_LOW after a failure), so `markUserPinLocked` sets the
// CKF_USER_PIN_LOCKED token flag in the token's object file to present a locked token.

import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './services.js';

export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';
export const USER_PIN = '1234';
export const SO_PIN = '5678';

export function hasSoftHsm(): boolean {
  return existsSync(SOFTHSM_MODULE) && findExecutable('softhsm2-util') !== undefined;
}

export interface SoftHsmToken {
  label: string;
  serial: string;
  /** The slot ID SoftHSM gave it (changes whenever the token is re-created). */
  slotId: string;
}

// SoftHSM's file object store: attributes are (type u64 BE, kind u64 BE, value); kind 2 = an
// unsigned long (u64 BE), kind 3 = bytes (length u64 BE, then the bytes).
const CKA_OS_TOKENLABEL = 0x80005349;
const CKA_OS_TOKENFLAGS = 0x8000534b;
const CKF_USER_PIN_LOCKED = 0x40000;

function attrHeader(type: number, kind: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(BigInt(type), 0);
  b.writeBigUInt64BE(BigInt(kind), 8);
  return b;
}

export class SoftHsm {
  private constructor(
    readonly dir: string,
    readonly conf: string,
  ) {}

  /** A new empty token store; sets process.env.SOFTHSM2_CONF for this test process. */
  static create(): SoftHsm {
    const dir = mkdtempSync(join(tmpdir(), 'trustdesk-hsm-'));
    mkdirSync(join(dir, 'tokens'));
    const conf = join(dir, 'softhsm2.conf');
    writeFileSync(
      conf,
      `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    process.env.SOFTHSM2_CONF = conf;
    return new SoftHsm(dir, conf);
  }

  #util(args: string[]): string {
    return execFileSync('softhsm2-util', args, {
      env: { ...process.env, SOFTHSM2_CONF: this.conf },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Initialises a token in the free slot. Open modules only see it after re-initialising. */
  initToken(label: string, pin = USER_PIN, soPin = SO_PIN): SoftHsmToken {
    this.#util(['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin]);
    const t = this.tokens().find((x) => x.label === label);
    if (!t) throw new Error(`softhsm2-util did not create token ${label}`);
    return t;
  }

  deleteToken(label: string): void {
    this.#util(['--delete-token', '--token', label]);
  }

  /** Initialised tokens, parsed from `softhsm2-util --show-slots`. */
  tokens(): SoftHsmToken[] {
    const out: SoftHsmToken[] = [];
    for (const block of this.#util(['--show-slots'])
      .split(/^Slot /m)
      .slice(1)) {
      const slotId = block.slice(0, block.indexOf('\n')).trim();
      const serial = /Serial number:\s*(\S*)/.exec(block)?.[1] ?? '';
      const label = /Label:\s*(.*)$/m.exec(block)?.[1]?.trimEnd() ?? '';
      if (/Initialized:\s*yes/.test(block)) out.push({ label, serial, slotId });
    }
    return out;
  }

  /** Sets CKF_USER_PIN_LOCKED in the stored token flags (only while no module has it open). */
  markUserPinLocked(label: string): void {
    const labelHeader = Buffer.concat([attrHeader(CKA_OS_TOKENLABEL, 3), Buffer.alloc(8)]);
    labelHeader.writeBigUInt64BE(32n, 16);
    const want = Buffer.concat([labelHeader, Buffer.from(label.padEnd(32, ' '), 'latin1')]);
    const tokensDir = join(this.dir, 'tokens');
    for (const d of readdirSync(tokensDir)) {
      const file = join(tokensDir, d, 'token.object');
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      if (bytes.indexOf(want) === -1) continue;
      const at = bytes.indexOf(attrHeader(CKA_OS_TOKENFLAGS, 2));
      if (at === -1) throw new Error(`no token flags in ${file}`);
      const flags = bytes.readBigUInt64BE(at + 16);
      bytes.writeBigUInt64BE(flags | BigInt(CKF_USER_PIN_LOCKED), at + 16);
      writeFileSync(file, bytes);
      return;
    }
    throw new Error(`token ${label} not found in ${tokensDir}`);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
