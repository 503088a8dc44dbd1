import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { chmod, mkdir, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { openKeyFile, parseKeyFile } from '../../src/keyring/keyfile-format.js';
import { generateMaterial } from '../../src/keyring/private-key.js';
import { NOW, ScriptedPrompter, fileBackend, tempTrustDir } from './helpers.js';
import { MAX_KEYFILE_BYTES, type FileBackend } from '../../src/keyring/file-store.js';

const isCode = (code: string, msg?: RegExp) => (e: unknown) =>
  e instanceof TrustdeskError && e.code === code && (!msg || msg.test(e.message));
const MSG = new TextEncoder().encode('signed bytes');

test('generate stores one 0600 file per key in a 0700 private dir, listed without unlocking', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const p = new ScriptedPrompter(['pass-targets'], ['pass-targets']);
  const r1 = await b.generate(
    { algorithm: 'ecdsa', role: 'targets', gun: 'example.com/a', nowMs: NOW },
    p,
  );
  const r2 = await b.generate(
    { algorithm: 'ed25519', role: 'targets/releases', gun: '', nowMs: NOW },
    p,
  );
  assert.equal((await stat(join(dir, 'private'))).mode & 0o777, 0o700);
  for (const r of [r1, r2]) {
    assert.equal(r.location, join(dir, 'private', `${r.id}.json`));
    assert.equal((await stat(r.location)).mode & 0o777, 0o600);
    assert.equal(r.backend, 'file');
    assert.equal(r.id, r.publicKey.id);
    assert.equal(r.tufId, r.id);
    assert.equal(r.createdAt, '2025-06-01T12:00:00Z');
  }
  assert.equal(r1.algorithm, 'ecdsa');
  assert.equal(r2.algorithm, 'ed25519');
  const asked = p.asked.length;
  const listed = await b.list();
  assert.deepEqual(listed.map((r) => r.id).sort(), [r1.id, r2.id].sort());
  assert.equal(p.asked.length, asked, 'listing must not ask for any passphrase');
  // And each key signs after unlocking.
  for (const r of [r1, r2]) {
    const s = await b.signer(r, new ScriptedPrompter(['pass-targets']));
    assert.equal(s.keyId, r.tufId);
    const method = r.algorithm === 'ed25519' ? 'eddsa' : 'ecdsa';
    assert.ok(s.publicKey.verify(method, MSG, await s.sign(MSG)));
  }
});

test('a loose private dir is tightened to 0700', async (t) => {
  const dir = await tempTrustDir(t);
  await mkdir(join(dir, 'private'), { mode: 0o755 });
  await chmod(join(dir, 'private'), 0o755);
  await fileBackend(dir).generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['12345678']),
  );
  assert.equal((await stat(join(dir, 'private'))).mode & 0o777, 0o700);
});

test('a file where the private dir should be is refused with ERR_IO and left alone', async (t) => {
  const dir = await tempTrustDir(t);
  await writeFile(join(dir, 'private'), 'not a directory');
  const p = new ScriptedPrompter(['12345678']);
  await assert.rejects(
    fileBackend(dir).generate({ algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW }, p),
    isCode('ERR_IO', /not a directory/),
  );
  assert.equal(p.asked.length, 0, 'no passphrase is asked for a key that cannot be stored');
  assert.equal(await readFile(join(dir, 'private'), 'utf8'), 'not a directory');
});

test('a wrong passphrase gives ERR_BAD_PASSPHRASE and leaves the file byte-identical', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const r = await b.generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['the right one']),
  );
  const before = await readFile(r.location);
  const p = new ScriptedPrompter(['wrong 1', 'wrong 2', 'wrong 3', 'wrong 4', 'wrong 5']);
  await assert.rejects(b.signer(r, p), isCode('ERR_BAD_PASSPHRASE', /giving up/));
  assert.equal(p.asked.length, 4);
  await assert.rejects(
    b.changePassphrase(r, new ScriptedPrompter(['nope'], ['new passphrase'])),
    isCode('ERR_BAD_PASSPHRASE'),
  );
  assert.deepEqual(await readFile(r.location), before);
  assert.deepEqual(await readdir(join(dir, 'private')), [`${r.id}.json`]);
});

test('passwd re-encrypts atomically under the new passphrase and keeps role, gun, createdAt', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const r = await b.generate(
    { algorithm: 'ecdsa', role: 'snapshot', gun: 'example.com/a', nowMs: NOW },
    new ScriptedPrompter(['old passphrase']),
  );
  const before = parseKeyFile(await readFile(r.location), 'k');
  await b.changePassphrase(r, new ScriptedPrompter(['old passphrase'], ['new passphrase']));
  const after = parseKeyFile(await readFile(r.location), 'k');
  assert.deepEqual(
    [after.header.role, after.header.gun, after.header.createdAt, after.header.keyId],
    ['snapshot', 'example.com/a', '2025-06-01T12:00:00Z', r.id],
  );
  assert.notDeepEqual(after.header.kdf.salt, before.header.kdf.salt, 'a fresh salt');
  await assert.rejects(openKeyFile(after, 'old passphrase', 'k'), isCode('ERR_BAD_PASSPHRASE'));
  await openKeyFile(after, 'new passphrase', 'k');
  assert.equal((await stat(r.location)).mode & 0o777, 0o600);
  assert.deepEqual(
    await readdir(join(dir, 'private')),
    [`${r.id}.json`],
    'no temp file left behind',
  );
  // A short new passphrase changes nothing.
  const bytes = await readFile(r.location);
  await assert.rejects(
    b.changePassphrase(r, new ScriptedPrompter(['new passphrase'], ['short'])),
    isCode('ERR_WEAK_PASSPHRASE'),
  );
  assert.deepEqual(await readFile(r.location), bytes);
});

test('corrupt and foreign files are listed as problems; temp files and Go .key files are ignored', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const good = await b.generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['12345678']),
  );
  const bytes = await readFile(good.location);
  const priv = join(dir, 'private');
  await writeFile(join(priv, `${'1'.repeat(64)}.json`), bytes.subarray(0, 100)); // truncated
  await writeFile(join(priv, `${'2'.repeat(64)}.json`), bytes); // name does not match its key
  await writeFile(join(priv, `.${good.id}.json.abcdef.tmp`), 'partial');
  await writeFile(join(priv, `${'3'.repeat(64)}.key`), '-----BEGIN ENCRYPTED PRIVATE KEY-----\n');
  const { keys, problems } = await b.scan();
  assert.deepEqual(
    keys.map((k) => k.id),
    [good.id],
  );
  assert.deepEqual(
    problems.map((p) => [p.location.slice(priv.length + 1, priv.length + 2), p.error.code]),
    [
      ['1', 'ERR_KEYFILE_CORRUPT'],
      ['2', 'ERR_KEYFILE_CORRUPT'],
    ],
  );
});

test('a key file changed after a good read is judged again: corruption is never masked', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const r = await b.generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['12345678']),
  );
  const good = await readFile(r.location);
  assert.deepEqual(
    (await b.scan()).keys.map((k) => k.id),
    [r.id],
  );
  await b.signer(r, new ScriptedPrompter(['12345678']));

  // Same backend, same process: the bytes on disk change under it.
  await writeFile(r.location, good.subarray(0, good.length - 20));
  const after = await b.scan();
  assert.deepEqual(after.keys, []);
  assert.deepEqual(
    after.problems.map((p) => p.error.code),
    ['ERR_KEYFILE_CORRUPT'],
  );
  await assert.rejects(
    b.signer(r, new ScriptedPrompter(['12345678'])),
    isCode('ERR_KEYFILE_CORRUPT'),
  );
  // One changed header byte: the checksum no longer matches (bit rot).
  const text = good.toString('utf8');
  assert.ok(text.includes('"role": "root"'));
  await writeFile(r.location, text.replace('"role": "root"', '"role": "roon"'));
  await assert.rejects(
    b.signer(r, new ScriptedPrompter(['12345678'])),
    isCode('ERR_KEYFILE_CORRUPT'),
  );

  // The original bytes read (and sign) as before.
  await writeFile(r.location, good);
  const s = await b.signer(r, new ScriptedPrompter(['12345678']));
  assert.equal(s.keyId, r.id);
});

test('a FIFO, a directory or a huge file in private/ is a problem, never read or waited on', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const good = await b.generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['12345678']),
  );
  const priv = join(dir, 'private');
  execFileSync('mkfifo', [join(priv, `${'4'.repeat(64)}.json`)]); // no writer: open must not block
  await mkdir(join(priv, `${'5'.repeat(64)}.json`));
  const huge = join(priv, `${'6'.repeat(64)}.json`);
  await writeFile(huge, '');
  await truncate(huge, 512 * 1024 * 1024); // sparse: reading it would cost 512 MiB of memory
  // Exactly at the limit is read (and fails to parse); one byte more is not read at all.
  const atLimit = join(priv, `${'7'.repeat(64)}.json`);
  await writeFile(atLimit, Buffer.alloc(MAX_KEYFILE_BYTES, 0x20));
  const { keys, problems } = await b.scan();
  assert.deepEqual(
    keys.map((k) => k.id),
    [good.id],
  );
  const byName = new Map(
    problems.map((p) => [p.location.slice(priv.length + 1, priv.length + 2), p.error]),
  );
  assert.deepEqual([...byName.keys()], ['4', '5', '6', '7']);
  for (const e of byName.values()) assert.equal(e.code, 'ERR_KEYFILE_CORRUPT');
  assert.match(byName.get('4')?.message ?? '', /not a regular file/);
  assert.match(byName.get('5')?.message ?? '', /not a regular file/);
  assert.match(byName.get('6')?.message ?? '', /larger than 65536 bytes/);
  assert.doesNotMatch(byName.get('7')?.message ?? '', /larger than/);
});

test('an existing key is never overwritten; remove deletes the file', async (t) => {
  const dir = await tempTrustDir(t);
  const b = fileBackend(dir);
  const material = generateMaterial('ecdsa');
  const p = new ScriptedPrompter(['12345678']);
  const r = await b.importPrivate(material, { role: 'root', gun: '', nowMs: NOW }, p);
  const bytes = await readFile(r.location);
  await assert.rejects(
    b.importPrivate(material, { role: 'targets', gun: 'x', nowMs: NOW }, p),
    isCode('ERR_KEY_EXISTS'),
  );
  assert.deepEqual(await readFile(r.location), bytes);
  await b.remove(r);
  assert.deepEqual(await b.list(), []);
  await assert.rejects(b.remove(r), isCode('ERR_KEY_NOT_FOUND'));
  assert.throws(() => b.read(r.location), isCode('ERR_KEY_NOT_FOUND'));
});

test('an aborted signal stops generate before anything is written', async (t) => {
  const dir = await tempTrustDir(t);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    fileBackend(dir).generate(
      { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW, signal: ac.signal },
      new ScriptedPrompter(['12345678']),
    ),
    isCode('ERR_ABORTED'),
  );
  assert.deepEqual(await fileBackend(dir).list(), []);
});

// ---------------------------------------------------------------------------------------------
// kill -9 during passwd

const CHILD = join(import.meta.dirname, 'passwd-child.ts');

function startChild(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, sig) => resolve(sig ?? code)),
  );
  const next = (pred: (l: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const onLine = (l: string) => {
        if (pred(l)) {
          lines.off('line', onLine);
          resolve(l);
        }
      };
      lines.on('line', onLine);
      void exited.then((how) =>
        reject(new Error(`child exited (${String(how)}) early:\n${stderr}`)),
      );
    });
  return { child, next, exited };
}

async function setupKey(dir: string) {
  const b = fileBackend(dir);
  const r = await b.generate(
    { algorithm: 'ecdsa', role: 'root', gun: '', nowMs: NOW },
    new ScriptedPrompter(['passphrase-A']),
  );
  return { b, r };
}

async function opensWith(b: FileBackend, location: string): Promise<string[]> {
  const f = b.read(location).parsed;
  const ok: string[] = [];
  for (const pass of ['passphrase-A', 'passphrase-B']) {
    try {
      await openKeyFile(f, pass, location);
      ok.push(pass);
    } catch (e) {
      assert.ok(isCode('ERR_BAD_PASSPHRASE')(e), String(e));
    }
  }
  return ok;
}

test(
  'kill -9 after the new file is written but before it is committed: the old file opens',
  { timeout: 60_000 },
  async (t) => {
    const dir = await tempTrustDir(t);
    const { b, r } = await setupKey(dir);
    const before = await readFile(r.location);
    const c = startChild([dir, r.id, 'pause']);
    const ready = await c.next((l) => l.startsWith('ready '));
    const temp = ready.slice('ready '.length);
    // The complete new file is on disk next to the old one…
    await openKeyFile(parseKeyFile(await readFile(temp), temp), 'passphrase-B', temp);
    c.child.kill('SIGKILL');
    assert.equal(await c.exited, 'SIGKILL');
    // …but the key file is untouched, opens with the old passphrase, and the leftover is ignored.
    assert.deepEqual(await readFile(r.location), before);
    assert.deepEqual(await opensWith(b, r.location), ['passphrase-A']);
    assert.deepEqual(
      (await b.list()).map((k) => k.id),
      [r.id],
    );
    // The next passwd cleans the leftover up.
    await b.changePassphrase(r, new ScriptedPrompter(['passphrase-A'], ['passphrase-B']));
    assert.deepEqual(await readdir(join(dir, 'private')), [`${r.id}.json`]);
  },
);

test(
  'kill -9 at an arbitrary point of repeated passwd: the file always opens with one of the passphrases',
  { timeout: 60_000 },
  async (t) => {
    const dir = await tempTrustDir(t);
    const { b, r } = await setupKey(dir);
    const c = startChild([dir, r.id, 'loop']);
    await c.next((l) => l === 'done 2');
    c.child.kill('SIGKILL');
    assert.equal(await c.exited, 'SIGKILL');
    const ok = await opensWith(b, r.location);
    assert.equal(ok.length, 1, `opens with exactly one passphrase, got ${ok.join(', ')}`);
    assert.equal((await b.scan()).problems.length, 0);
  },
);
