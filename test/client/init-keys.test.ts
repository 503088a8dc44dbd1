// How init makes its keys. With a person answering (a prompter that is not `unattended`) one
// question is open at a time, in the documented order: root, targets, snapshot. With an
// unattended prompter (script mode) the targets and snapshot keys are made concurrently — the
// barrier prompter below answers only once both questions are open, so a sequential init fails
// it — and when one of them fails init fails with that error and caches no metadata.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ScriptPrompter, chainPrompters } from '../../src/keyring/prompter.js';
import { TrustdeskError, isTrustdeskError } from '../../src/tuf/errors.js';
import type {
  ConfirmRequest,
  PassphraseRequest,
  PinRequest,
  Prompter,
  PrompterNotice,
} from '../../src/keyring/types.js';
import {
  cheapKeyring,
  openRepo,
  removeDir,
  startTrustdeskServer,
  tempDir,
  type TestServer,
} from './client-harness.js';

const PASS = 'a passphrase for init';

class RecordingPrompter implements Prompter {
  readonly asked: string[] = [];
  open = 0;
  maxOpen = 0;
  constructor(readonly unattended?: boolean) {}

  async passphrase(req: PassphraseRequest): Promise<string> {
    this.asked.push(`${req.mode}:${req.role}`);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    try {
      return await this.answer(req);
    } finally {
      this.open--;
    }
  }

  protected async answer(_req: PassphraseRequest): Promise<string> {
    await new Promise((r) => setImmediate(r)); // a person takes a moment
    return PASS;
  }

  pin(_req: PinRequest): Promise<string> {
    return Promise.reject(new TrustdeskError('ERR_NO_TTY', 'no PIN here'));
  }
  confirm(_req: ConfirmRequest): Promise<boolean> {
    return Promise.resolve(true);
  }
  notice(_n: PrompterNotice): void {}
}

/** Answers the targets and snapshot questions only once both are open (or fails after 20 s). */
class BarrierPrompter extends RecordingPrompter {
  #release!: () => void;
  readonly #both = new Promise<void>((r) => (this.#release = r));
  #waiting = 0;
  constructor(readonly failRole?: string) {
    super(true);
  }

  protected override async answer(req: PassphraseRequest): Promise<string> {
    if (req.role !== 'targets' && req.role !== 'snapshot') return PASS;
    if (++this.#waiting === 2) this.#release();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`only the ${req.role} question was ever open: init is sequential`)),
        20_000,
      );
    });
    try {
      await Promise.race([this.#both, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    if (req.role === this.failRole)
      throw new TrustdeskError('ERR_NO_TTY', `no passphrase for ${req.role}`);
    return PASS;
  }
}

let server: TestServer;
const dirs: string[] = [];
before(async () => {
  server = await startTrustdeskServer();
});
after(async () => {
  for (const d of dirs) await removeDir(d);
  await server.stop();
});

let n = 0;
async function repoWith(prompter: Prompter) {
  const trustDir = await tempDir('init-keys');
  dirs.push(trustDir);
  const gun = `example.com/init-keys/${++n}`;
  const h = openRepo(server.url, trustDir, gun, { keyring: cheapKeyring(trustDir, prompter) });
  return { ...h, gun };
}

test('a person is asked one question at a time, root then targets then snapshot', async () => {
  const p = new RecordingPrompter();
  const h = await repoWith(p);
  try {
    await h.repo.init();
    assert.deepEqual(p.asked, ['new:root', 'new:targets', 'new:snapshot']);
    assert.equal(p.maxOpen, 1);
  } finally {
    await h.close();
  }
});

test('unattended, the targets and snapshot keys are made concurrently', async () => {
  const p = new BarrierPrompter();
  const h = await repoWith(p);
  try {
    const r = await h.repo.init();
    assert.deepEqual(r.versions, { root: 1, targets: 1, snapshot: 1 });
    assert.equal(p.maxOpen, 2);
    assert.deepEqual(p.asked.slice().sort(), ['new:root', 'new:snapshot', 'new:targets']);
    const keys = await h.keyring.list();
    assert.deepEqual(keys.map((k) => k.role).sort(), ['root', 'snapshot', 'targets']);
  } finally {
    await h.close();
  }
});

test('unattended, a failing key makes init fail with its error and cache nothing', async () => {
  const p = new BarrierPrompter('snapshot');
  const h = await repoWith(p);
  try {
    await assert.rejects(
      h.repo.init(),
      (e: unknown) => isTrustdeskError(e) && e.code === 'ERR_NO_TTY',
    );
    const tuf = join(h.trustDir, 'tuf', ...h.gun.split('/'), 'metadata');
    await assert.rejects(stat(join(tuf, 'root.json')), { code: 'ENOENT' });
    const priv = await readdir(join(h.trustDir, 'private'));
    assert.deepEqual(
      priv.filter((f) => f.endsWith('.tmp')),
      [],
      'no half-written key file',
    );
    // Nothing was left running: the same trust dir initialises once the answer is there.
    const again = openRepo(server.url, h.trustDir, h.gun, {
      keyring: cheapKeyring(h.trustDir, new RecordingPrompter(true)),
    });
    try {
      const r = await again.repo.init();
      assert.deepEqual(r.versions, { root: 1, targets: 1, snapshot: 1 });
    } finally {
      await again.close();
    }
  } finally {
    await h.close();
  }
});

test('script mode is unattended; a terminal in the chain is not', () => {
  const script = new ScriptPrompter({ env: {}, assumeYes: false });
  assert.equal(script.unattended, true);
  assert.notEqual(chainPrompters(script, new RecordingPrompter()).unattended, true);
});
