import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { TtyPrompter } from '../../src/app/commands/key-tty-prompter.js';
import { TrustdeskError } from '../../src/tuf/errors.js';

/** A fake terminal: keystrokes are queued up front (one chunk per prompt, read as they come). */
function terminal(...answers: string[]) {
  const input = new PassThrough();
  let out = '';
  let rawCalls = 0;
  const tty = Object.assign(input, {
    isRaw: false,
    setRawMode(raw: boolean) {
      rawCalls++;
      tty.isRaw = raw;
    },
  });
  const p = new TtyPrompter(tty, { write: (s: string) => (out += s) });
  // Feed the next answer whenever a prompt has been written.
  const origRead = p.readLine.bind(p);
  p.readLine = (prompt, secret, signal) => {
    const pending = origRead(prompt, secret, signal);
    const a = answers.shift();
    if (a !== undefined) input.write(a);
    return pending;
  };
  return { p, output: () => out, rawCalls: () => rawCalls, tty };
}

test('existing passphrase: echo off (raw mode restored), backspace edits, retry notice', async () => {
  const t = terminal('secreX\u007ft\r');
  const v = await t.p.passphrase({
    mode: 'existing',
    role: 'root',
    gun: '',
    keyId: 'abcdef0123',
    attempt: 1,
  });
  assert.equal(v, 'secret');
  assert.match(
    t.output(),
    /Passphrase incorrect\. Please retry\.\nEnter passphrase for root key abcdef0: \n/,
  );
  assert.equal(t.output().includes('secret'), false, 'the secret is not echoed');
  assert.equal(t.rawCalls(), 2);
  assert.equal(t.tty.isRaw, false);
});

test('new passphrase: too short, then mismatch, then confirmed', async () => {
  const t = terminal(
    'short\n',
    'long enough 1\n',
    'long enough 2\n',
    'long enough 3\n',
    'long enough 3\n',
  );
  const v = await t.p.passphrase({
    mode: 'new',
    role: 'targets',
    gun: 'example.com/a',
    keyId: '',
    attempt: 0,
  });
  assert.equal(v, 'long enough 3');
  assert.match(t.output(), /too short/);
  assert.match(t.output(), /do not match/);
  assert.match(t.output(), /Enter passphrase for new targets key \(example\.com\/a\)/);
});

test('new passphrase gives up after three failed tries', async () => {
  const t = terminal('a\n', 'b\n', 'c\n');
  await assert.rejects(
    t.p.passphrase({ mode: 'new', role: 'root', gun: '', keyId: '', attempt: 0 }),
    (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_WEAK_PASSPHRASE',
  );
});

test('dangerous confirmations need "yes" typed out; Ctrl-C and an aborted signal cancel', async () => {
  assert.equal(await terminal('y\n').p.confirm({ message: 'Delete?', dangerous: true }), false);
  assert.equal(await terminal('yes\n').p.confirm({ message: 'Delete?', dangerous: true }), true);
  assert.equal(await terminal('y\n').p.confirm({ message: 'Continue?', dangerous: false }), true);
  assert.equal(await terminal('\n').p.confirm({ message: 'Continue?', dangerous: false }), false);
  const cancelled = (e: unknown) => e instanceof TrustdeskError && e.code === 'ERR_ABORTED';
  await assert.rejects(
    terminal('abc\u0003').p.pin({
      kind: 'user',
      tokenLabel: 'yk',
      tokenSerial: '1',
      keyId: '',
      attempt: 0,
    }),
    cancelled,
  );
  const ac = new AbortController();
  const t = terminal();
  const pending = t.p.passphrase({
    mode: 'existing',
    role: 'root',
    gun: '',
    keyId: '',
    attempt: 0,
    signal: ac.signal,
  });
  ac.abort();
  await assert.rejects(pending, cancelled);
  assert.equal(t.tty.isRaw, false, 'raw mode is restored after a cancel');
});

test('PIN prompts warn when few tries are left; touch notices are shown', async () => {
  const t = terminal('123456\r');
  assert.equal(
    await t.p.pin({
      kind: 'user',
      tokenLabel: 'YubiKey PIV',
      tokenSerial: '1',
      keyId: '',
      attempt: 0,
      retries: 'final',
    }),
    '123456',
  );
  assert.match(t.output(), /LAST try/);
  t.p.notice({ kind: 'touch', keyId: 'abcdef0123', tokenLabel: 'YubiKey PIV' });
  assert.match(t.output(), /Touch the token "YubiKey PIV" to sign with key abcdef0/);
});
