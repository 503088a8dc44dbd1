import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ScriptPrompter,
  askNewPassphrase,
  unlockWithPassphrase,
} from '../../src/keyring/prompter.js';
import { MAX_PASSPHRASE_ATTEMPTS, type PassphraseRequest } from '../../src/keyring/types.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { ScriptedPrompter, tempTrustDir } from './helpers.js';

const req = (
  role: string,
  mode: 'new' | 'existing' = 'existing',
  attempt = 0,
): PassphraseRequest => ({
  role,
  gun: role === 'targets' ? 'example.com/a' : '',
  keyId: 'f'.repeat(64),
  mode,
  attempt,
});

const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError &&
  e.code === code &&
  (!msg || msg.test(e.message) || msg.test(e.hint));

test('script prompter: env names per role, Go names and the delegation fallback', async () => {
  const env = {
    TRUSTDESK_ROOT_PASSPHRASE: 'td-root',
    NOTARY_ROOT_PASSPHRASE: 'go-root',
    NOTARY_TARGETS_PASSPHRASE: 'go-targets',
    NOTARY_DELEGATION_PASSPHRASE: 'go-deleg',
    TRUSTDESK_TIMESTAMP_PASSPHRASE: '',
  };
  const p = new ScriptPrompter({ env });
  const table: [string, string][] = [
    ['root', 'td-root'], // trustdesk's name wins over Go's
    ['targets', 'go-targets'],
    ['targets/releases', 'go-deleg'],
    ['user', 'go-deleg'], // any non-base role is a "delegation"
  ];
  for (const [role, want] of table) assert.equal(await p.passphrase(req(role)), want, role);
  // Empty values count as unset; timestamp has no Go name.
  await assert.rejects(
    p.passphrase(req('timestamp')),
    isCode('ERR_NO_TTY', /TRUSTDESK_TIMESTAMP_PASSPHRASE/),
  );
  await assert.rejects(
    p.passphrase(req('snapshot')),
    isCode('ERR_NO_TTY', /NOTARY_SNAPSHOT_PASSPHRASE/),
  );
});

test('script prompter: a second ask means the supplied secret was wrong', async () => {
  const p = new ScriptPrompter({ env: { NOTARY_ROOT_PASSPHRASE: 'x' }, assumeYes: false });
  await assert.rejects(
    p.passphrase(req('root', 'existing', 1)),
    isCode('ERR_BAD_PASSPHRASE', /NOTARY_ROOT_PASSPHRASE/),
  );
  await assert.rejects(
    p.pin({ kind: 'user', tokenLabel: 't', tokenSerial: 's', keyId: '', attempt: 0 }),
    isCode('ERR_NO_TTY', /TRUSTDESK_PKCS11_PIN/),
  );
  const withPin = new ScriptPrompter({ env: { TRUSTDESK_PKCS11_PIN: '1234' } });
  assert.equal(
    await withPin.pin({ kind: 'user', tokenLabel: 't', tokenSerial: 's', keyId: '', attempt: 0 }),
    '1234',
  );
  await assert.rejects(
    withPin.pin({ kind: 'user', tokenLabel: 't', tokenSerial: 's', keyId: '', attempt: 1 }),
    isCode('ERR_BAD_PIN'),
  );
  await assert.rejects(p.confirm({ message: 'delete?', dangerous: true }), isCode('ERR_NO_TTY'));
  assert.equal(
    await new ScriptPrompter({ env: {}, assumeYes: true }).confirm({
      message: 'ok?',
      dangerous: true,
    }),
    true,
  );
});

test('script prompter: files win over env; passwd needs a distinct new source', async (t) => {
  const dir = await tempTrustDir(t);
  const pf = join(dir, 'pass');
  const nf = join(dir, 'new');
  await writeFile(pf, 'from file\r\nsecond line ignored\n');
  await writeFile(nf, 'brand new pass');
  const env = { NOTARY_ROOT_PASSPHRASE: 'env-root', TRUSTDESK_NEW_PASSPHRASE: 'env-new' };
  const p = new ScriptPrompter({ env, passphraseFile: pf });
  assert.equal(await p.passphrase(req('root')), 'from file');
  assert.equal(await p.passphrase(req('root', 'new')), 'env-new');
  const distinct = new ScriptPrompter({
    env: { NOTARY_ROOT_PASSPHRASE: 'env-root' },
    distinctNew: true,
  });
  await assert.rejects(
    distinct.passphrase(req('root', 'new')),
    isCode('ERR_NO_TTY', /--new-passphrase-file/),
  );
  const withNewFile = new ScriptPrompter({ env, newPassphraseFile: nf, distinctNew: true });
  assert.equal(await withNewFile.passphrase(req('root', 'new')), 'brand new pass');
  // Without distinctNew, a new key takes the role's passphrase (as Go's env retriever does).
  assert.equal(
    await new ScriptPrompter({ env: { NOTARY_ROOT_PASSPHRASE: 'r' } }).passphrase(
      req('root', 'new'),
    ),
    'r',
  );
  const missing = new ScriptPrompter({ env: {}, passphraseFile: join(dir, 'nope') });
  await assert.rejects(missing.passphrase(req('root')), isCode('ERR_IO'));
});

test('script prompter honours an aborted signal', async () => {
  const ac = new AbortController();
  ac.abort();
  const p = new ScriptPrompter({ env: { NOTARY_ROOT_PASSPHRASE: 'x' } });
  await assert.rejects(p.passphrase({ ...req('root'), signal: ac.signal }), isCode('ERR_ABORTED'));
});

test('unlock loop: retries only on a wrong passphrase, gives up after the limit', async () => {
  const p = new ScriptedPrompter(['a', 'b', 'right']);
  const seen: string[] = [];
  const got = await unlockWithPassphrase(p, { role: 'root', gun: '', keyId: 'k' }, (pass) => {
    seen.push(pass);
    if (pass !== 'right') return Promise.reject(new TrustdeskError('ERR_BAD_PASSPHRASE', 'no'));
    return Promise.resolve(42);
  });
  assert.equal(got, 42);
  assert.deepEqual(seen, ['a', 'b', 'right']);
  assert.deepEqual(
    p.asked.map((r) => r.attempt),
    [0, 1, 2],
  );

  const never = new ScriptedPrompter(['wrong']);
  await assert.rejects(
    unlockWithPassphrase(never, { role: 'root', gun: '', keyId: 'k' }, () =>
      Promise.reject(new TrustdeskError('ERR_BAD_PASSPHRASE', 'no')),
    ),
    isCode('ERR_BAD_PASSPHRASE', /giving up/),
  );
  assert.equal(never.asked.length, MAX_PASSPHRASE_ATTEMPTS);

  const other = new ScriptedPrompter(['x']);
  await assert.rejects(
    unlockWithPassphrase(other, { role: 'root', gun: '', keyId: 'k' }, () =>
      Promise.reject(new TrustdeskError('ERR_KEYFILE_CORRUPT', 'bad file')),
    ),
    isCode('ERR_KEYFILE_CORRUPT'),
  );
  assert.equal(other.asked.length, 1);
});

test('new passphrases must have at least 8 characters', async () => {
  await assert.rejects(
    askNewPassphrase(new ScriptedPrompter([], ['short']), { role: 'root', gun: '', keyId: '' }),
    isCode('ERR_WEAK_PASSPHRASE'),
  );
  assert.equal(
    await askNewPassphrase(new ScriptedPrompter([], ['12345678']), {
      role: 'root',
      gun: '',
      keyId: '',
    }),
    '12345678',
  );
});
