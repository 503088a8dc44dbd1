// Terminal output helpers: colour that honours NO_COLOR (https://no-color.org) and the error
// formats every command shares.

import { inspect } from 'node:util';
import type { TrustdeskError } from '../tuf/errors.js';
import type { Io } from './context.js';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function makeStyle(color: boolean): Style {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
  };
}

/** Colour only on a terminal, never when NO_COLOR is set (to anything non-empty) or TERM=dumb. */
export function wantColor(stream: { isTTY?: boolean }, env: Io['env']): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** `error [CODE]: message` + `hint: …` for stderr. */
export function formatErrorText(e: TrustdeskError, style: Style, debug: boolean): string {
  let out = `${style.red(`error [${e.code}]`)}: ${e.message}\n${style.dim(`hint: ${e.hint}`)}\n`;
  if (debug) {
    out += `${e.stack ?? ''}\n`;
    let cause: unknown = e.cause;
    while (cause !== undefined) {
      out += `caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause)}\n`;
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return out;
}

export function errorJson(e: TrustdeskError): { code: string; message: string; hint: string } {
  return { code: e.code, message: e.message, hint: e.hint };
}
