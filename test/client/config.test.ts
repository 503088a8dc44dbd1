// Client config: Go notary config.json keys read unchanged, paths resolved as Go does, flags
// over the file, defaults, NOTARY_AUTH, and errors that name the file and the key.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ErrorCode } from '../../src/tuf/errors.js';
import {
  DEFAULT_SERVER_URL,
  loadClientConfig,
  readTlsFiles,
  readTrustPinning,
  type ConfigFlags,
} from '../../src/client/config/client-config.js';
import { credentialsFromEnv } from '../../src/client/config/credentials.js';
import { RemoteServer } from '../../src/client/remote/remote-store.js';
import { HostileServer } from '../support/hostile-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { RepoSim } from '../support/repo-sim.js';

let root: string;
let home: string;
let cwd: string;
let pki: TestPki;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'trustdesk-config-'));
  home = join(root, 'home');
  cwd = join(root, 'work');
  await mkdir(join(home, '.trustdesk'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(cwd, { recursive: true });
  pki = createTestPki();
});

after(async () => {
  pki.dispose();
  await rm(root, { recursive: true, force: true });
});

async function writeConfig(path: string, doc: unknown): Promise<string> {
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

const load = (
  flags: ConfigFlags = {},
  env: Record<string, string | undefined> = {},
): ReturnType<typeof loadClientConfig> => loadClientConfig({ flags, env, cwd, homeDir: home });

async function fails(p: Promise<unknown>, code: ErrorCode, ...parts: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    for (const re of parts) assert.match(e.message, re);
    return true;
  });
}

describe('loading', () => {
  test('defaults when ~/.trustdesk/config.json does not exist', async () => {
    const c = await load();
    assert.equal(c.configFile, undefined);
    assert.equal(c.trustDir, join(home, '.trustdesk'));
    assert.equal(c.remote.url, DEFAULT_SERVER_URL);
    assert.equal(c.remote.url, 'https://notary-server:4443');
    assert.equal(c.remote.skipTLSVerify, false);
    assert.equal(c.remote.rootCa, undefined);
    assert.deepEqual(c.trustPinning, { certs: {}, ca: {}, disableTofu: false });
    assert.equal(c.credentials, undefined);
  });

  test('a Go notary config: paths relative to the config file, ~ expanded, URL normalised', async () => {
    const file = await writeConfig(join(root, 'etc', 'config.json'), {
      trust_dir: '~/notary-data',
      remote_server: {
        url: 'https://notary.example.com:4443/prefix/',
        root_ca: 'ca.crt',
        tls_client_cert: 'client.crt',
        tls_client_key: '/abs/client.key',
        skipTLSVerify: true,
      },
      trust_pinning: {
        certs: { 'docker.com/notary': ['abc'], 'docker.com/*': ['def'] },
        ca: { 'docker.com/': 'bundle.pem' },
        disable_tofu: true,
      },
      some_go_key_we_do_not_use: 1,
    });
    const c = await load({ configFile: file });
    assert.equal(c.configFile, file);
    assert.equal(c.trustDir, join(home, 'notary-data'));
    assert.equal(c.remote.url, 'https://notary.example.com:4443/prefix');
    assert.deepEqual(c.remote.rootCa, {
      path: join(root, 'etc', 'ca.crt'),
      key: 'remote_server.root_ca',
    });
    assert.equal(c.remote.clientCert?.path, join(root, 'etc', 'client.crt'));
    assert.equal(c.remote.clientKey?.path, '/abs/client.key');
    assert.equal(c.remote.skipTLSVerify, true);
    assert.deepEqual(c.trustPinning.certs, {
      'docker.com/notary': ['abc'],
      'docker.com/*': ['def'],
    });
    assert.equal(c.trustPinning.ca['docker.com/']?.path, join(root, 'etc', 'bundle.pem'));
    assert.equal(c.trustPinning.disableTofu, true);
  });

  test('keys match case-insensitively and booleans take Go ParseBool strings (as viper)', async () => {
    const file = await writeConfig(join(root, 'etc', 'case.json'), {
      Remote_Server: { URL: 'http://127.0.0.1:4443', skiptlsverify: 'T' },
      trust_pinning: { Disable_TOFU: '1' },
    });
    const c = await load({ configFile: file });
    assert.equal(c.remote.url, 'http://127.0.0.1:4443');
    assert.equal(c.remote.skipTLSVerify, true);
    assert.equal(c.trustPinning.disableTofu, true);
  });

  test('a relative trust_dir is relative to the CWD (as Go)', async () => {
    const file = await writeConfig(join(root, 'etc', 'rel.json'), { trust_dir: 'td' });
    assert.equal((await load({ configFile: file })).trustDir, join(cwd, 'td'));
  });

  test('flags override the file; their paths are relative to the CWD', async () => {
    const file = await writeConfig(join(root, 'etc', 'flags.json'), {
      trust_dir: '/from/config',
      remote_server: { url: 'https://config:1', root_ca: 'ca.crt' },
    });
    const c = await load({
      configFile: file,
      server: 'https://flag:2',
      trustDir: 'mine',
      tlsCaCert: 'flag-ca.pem',
      tlsCert: 'c.pem',
      tlsKey: '~/k.pem',
    });
    assert.equal(c.remote.url, 'https://flag:2');
    assert.equal(c.trustDir, join(cwd, 'mine'));
    assert.deepEqual(c.remote.rootCa, { path: join(cwd, 'flag-ca.pem'), key: '--tlscacert' });
    assert.equal(c.remote.clientCert?.path, join(cwd, 'c.pem'));
    assert.equal(c.remote.clientKey?.path, join(home, 'k.pem'));
  });

  test('TRUSTDESK_CONFIG names the file; -c wins over it; ~/.trustdesk/config.json otherwise', async () => {
    const viaEnv = await writeConfig(join(root, 'etc', 'env.json'), { trust_dir: '/env' });
    const viaFlag = await writeConfig(join(root, 'etc', 'flag.json'), { trust_dir: '/flag' });
    await writeConfig(join(home, '.trustdesk', 'config.json'), { trust_dir: '/home-default' });
    try {
      assert.equal((await load({}, { TRUSTDESK_CONFIG: viaEnv })).trustDir, '/env');
      assert.equal(
        (await load({ configFile: viaFlag }, { TRUSTDESK_CONFIG: viaEnv })).trustDir,
        '/flag',
      );
      const def = await load();
      assert.equal(def.trustDir, '/home-default');
      assert.equal(def.configFile, join(home, '.trustdesk', 'config.json'));
    } finally {
      await rm(join(home, '.trustdesk', 'config.json'));
    }
  });
});

describe('errors name the file and the key', () => {
  const bad: Array<{ name: string; doc: unknown; parts: RegExp[] }> = [
    { name: 'not JSON', doc: '{"trust_dir": ', parts: [/bad\.json/, /not valid JSON/] },
    { name: 'not an object', doc: '[1]', parts: [/must be a JSON object/] },
    {
      name: 'trust_dir not a string',
      doc: { trust_dir: 7 },
      parts: [/bad\.json: trust_dir: must be a string/],
    },
    {
      name: 'remote_server not an object',
      doc: { remote_server: 'x' },
      parts: [/remote_server: must be an object/],
    },
    {
      name: 'a URL without scheme',
      doc: { remote_server: { url: 'notary:4443' } },
      parts: [/remote_server\.url/, /https:\/\/ or http:\/\//],
    },
    {
      name: 'a URL with a query',
      doc: { remote_server: { url: 'https://n/?x=1' } },
      parts: [/query/],
    },
    {
      name: 'skipTLSVerify not a boolean',
      doc: { remote_server: { skipTLSVerify: 'yes' } },
      parts: [/remote_server\.skipTLSVerify: must be true or false/],
    },
    {
      name: 'certs not a list of strings',
      doc: { trust_pinning: { certs: { 'a/b': 'id' } } },
      parts: [/trust_pinning\.certs\["a\/b"\]/],
    },
    {
      name: 'ca not a path',
      doc: { trust_pinning: { ca: { 'a/': 3 } } },
      parts: [/trust_pinning\.ca\["a\/"\]/],
    },
    {
      name: 'a client certificate without its key',
      doc: { remote_server: { tls_client_cert: 'c.pem' } },
      parts: [/bad\.json/, /remote_server\.tls_client_cert is set without its pair/],
    },
  ];
  for (const b of bad) {
    test(b.name, async () => {
      const file = await writeConfig(join(root, 'etc', 'bad.json'), b.doc);
      await fails(load({ configFile: file }), 'ERR_BAD_CONFIG', ...b.parts);
    });
  }

  test('a --tlscert flag without --tlskey', async () => {
    await fails(load({ tlsCert: 'c.pem' }), 'ERR_BAD_CONFIG', /--tlscert is set without its pair/);
  });

  test('a named config file that is missing or unreadable', async () => {
    await fails(load({ configFile: 'nope.json' }), 'ERR_BAD_CONFIG', /nope\.json/, /no such file/);
    await fails(
      load({}, { TRUSTDESK_CONFIG: join(root, 'missing.json') }),
      'ERR_BAD_CONFIG',
      /missing\.json/,
    );
    await fails(
      load({ configFile: join(root, 'etc') }),
      'ERR_BAD_CONFIG',
      /cannot read the config file/,
    );
  });

  test('TLS and CA bundle files are read when needed, with the key in the error', async () => {
    const file = await writeConfig(join(root, 'etc', 'tls.json'), {
      remote_server: { root_ca: 'missing-ca.crt' },
      trust_pinning: { ca: { 'x/': 'not-pem.txt' } },
    });
    await writeFile(join(root, 'etc', 'not-pem.txt'), 'hello');
    const c = await load({ configFile: file });
    await fails(
      readTlsFiles(c),
      'ERR_BAD_CONFIG',
      /tls\.json: remote_server\.root_ca/,
      /no such file/,
    );
    await fails(
      readTrustPinning(c),
      'ERR_BAD_CONFIG',
      /trust_pinning\.ca\["x\/"\]/,
      /not a PEM file/,
    );
  });
});

describe('files and credentials', () => {
  test('readTlsFiles and readTrustPinning return PEM text for src/tuf and the transport', async () => {
    const file = await writeConfig(join(pki.dir, 'config.json'), {
      remote_server: {
        root_ca: 'ca.crt',
        tls_client_cert: 'client.crt',
        tls_client_key: 'client.key',
      },
      trust_pinning: { certs: { 'a/b': ['id1'] }, ca: { 'a/': 'ca.crt' }, disable_tofu: true },
    });
    const c = await load({ configFile: file });
    assert.deepEqual(await readTlsFiles(c), {
      ca: pki.ca.cert,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    assert.deepEqual(await readTrustPinning(c), {
      certs: { 'a/b': ['id1'] },
      ca: { 'a/': pki.ca.cert },
      disableTofu: true,
    });
  });

  const auth: Array<{
    value: string;
    want?: { username: string; password: string };
    error?: RegExp;
  }> = [
    {
      value: Buffer.from('alice:secret').toString('base64'),
      want: { username: 'alice', password: 'secret' },
    },
    {
      value: Buffer.from('bob:a:b ').toString('base64'),
      want: { username: 'bob', password: 'a:b' },
    },
    { value: 'not base64!', error: /not standard base64/ },
    { value: Buffer.from('nocolon').toString('base64'), error: /no ":"/ },
    { value: Buffer.from(':pw').toString('base64'), error: /user name is empty/ },
  ];
  for (const a of auth) {
    test(`NOTARY_AUTH=${a.value}`, async () => {
      if (a.want) {
        assert.deepEqual(credentialsFromEnv({ NOTARY_AUTH: a.value }), a.want);
        assert.deepEqual((await load({}, { NOTARY_AUTH: a.value })).credentials, a.want);
      } else {
        assert.throws(() => credentialsFromEnv({ NOTARY_AUTH: a.value }), {
          code: 'ERR_USAGE',
          message: a.error,
        });
      }
    });
  }

  test('RemoteServer.fromConfig: TLS from root_ca, credentials from NOTARY_AUTH', async () => {
    const sim = await RepoSim.create({ gun: 'example.com/config' });
    const srv = await HostileServer.start({
      sim,
      tls: { cert: pki.server.cert, key: pki.server.key },
      auth: { users: { alice: 'secret' } },
    });
    const file = await writeConfig(join(pki.dir, 'remote.json'), {
      remote_server: { url: srv.url, root_ca: 'ca.crt' },
    });
    const config = await load(
      { configFile: file },
      { NOTARY_AUTH: Buffer.from('alice:secret').toString('base64') },
    );
    const server = await RemoteServer.fromConfig(config);
    try {
      const bytes = await server.repository(sim.gun, 'push').getMetadata('root', 1 << 20);
      assert.deepEqual(bytes, sim.current('root'));
      assert.deepEqual(
        srv.tokenRequests.map((t) => t.user),
        ['alice'],
      );
    } finally {
      await server.close();
      await srv.close();
    }
  });
});
