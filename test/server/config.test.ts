// trustdesk-server configuration: Go notary-server config files unchanged, env overrides
// (TRUSTDESK_SERVER_* and the NOTARY_SERVER_* alias), validation messages, the no-config
// defaults, TLS that refuses to start rather than fall back to HTTP, and the binary itself.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer } from '../../server/app.js';
import {
  DEFAULTS,
  defaultConfig,
  loadConfigFile,
  parseServerConfig,
  type ServerConfig,
} from '../../server/config/config.js';
import { parseFlags } from '../../server/bin/flags.js';
import { runCli } from '../../server/bin/main.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../server/auth/password.js';
import { loadTokenAuth } from '../../server/auth/token.js';
import { startDebugServer } from '../../server/http/debug.js';
import { MemoryMetaStore } from '../../server/storage/memory.js';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { localTrust } from './http-support.js';

const dir = mkdtempSync(join(tmpdir(), 'trustdesk-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

const REMOTE = {
  type: 'remote',
  hostname: 'notarysigner',
  port: '7899',
  tls_ca_file: './root-ca.crt',
  key_algorithm: 'ecdsa',
  tls_client_cert: './notary-server.crt',
  tls_client_key: './notary-server.key',
};
const SERVER = {
  http_addr: ':4443',
  tls_key_file: './notary-server.key',
  tls_cert_file: './notary-server.crt',
};

// Go's fixtures/server-config*.json (notary 0.7), as shipped.
const GO_FIXTURES: Record<string, unknown> = {
  'server-config.json': {
    server: SERVER,
    trust_service: REMOTE,
    logging: { level: 'debug' },
    storage: { backend: 'mysql', db_url: 'server@tcp(mysql:3306)/notaryserver?parseTime=True' },
  },
  'server-config.postgres.json': {
    server: SERVER,
    trust_service: REMOTE,
    logging: { level: 'debug' },
    storage: {
      backend: 'postgres',
      db_url: 'postgres://server@postgresql:5432/notaryserver?sslmode=verify-ca',
    },
  },
  'server-config.sqlite.json': {
    server: SERVER,
    trust_service: REMOTE,
    logging: { level: 'debug' },
    storage: { backend: 'sqlite3', db_url: '/tmp/notary-server.db' },
  },
  'server-config-local.json': {
    server: SERVER,
    trust_service: REMOTE,
    logging: { level: 'debug' },
    storage: { backend: 'memory' },
  },
};

describe('Go notary-server config files', () => {
  test('every Go fixture loads unchanged; relative paths resolve against its directory', () => {
    const fixtures = join(dir, 'fixtures');
    const backends: Record<string, string> = {
      'server-config.json': 'mysql',
      'server-config.postgres.json': 'postgres',
      'server-config.sqlite.json': 'sqlite',
      'server-config-local.json': 'memory',
    };
    for (const [name, content] of Object.entries(GO_FIXTURES)) {
      const c = loadConfigFile(write(`fixtures/${name}`, content), {});
      assert.equal(c.storage.backend, backends[name], name);
      assert.deepEqual(c.listen, { host: undefined, port: 4443 });
      assert.deepEqual(c.tls, {
        certFile: join(fixtures, 'notary-server.crt'),
        keyFile: join(fixtures, 'notary-server.key'),
      });
      assert.deepEqual(c.trust, {
        type: 'remote',
        keyAlgorithm: 'ecdsa',
        hostname: 'notarysigner',
        port: 7899,
        caFile: join(fixtures, 'root-ca.crt'),
        clientCertFile: join(fixtures, 'notary-server.crt'),
        clientKeyFile: join(fixtures, 'notary-server.key'),
      });
      assert.equal(c.logging.level, 'debug');
      assert.equal(c.caching.currentMaxAge, 300);
      assert.equal(c.caching.consistentMaxAge, 2_592_000);
      assert.deepEqual(c.gunPrefixes, []);
    }
  });

  test('the rethinkdb fixture is refused with a clear message', () => {
    const p = write('rethink.json', {
      server: SERVER,
      trust_service: REMOTE,
      storage: { backend: 'rethinkdb', db_url: 'rdb-proxy.rdb' },
    });
    assert.throws(() => loadConfigFile(p, {}), /rethinkdb is not a supported storage backend/);
  });

  test('keys are case-insensitive (viper), auth and caching and prefixes are read', () => {
    const c = parseServerConfig(
      {
        Server: { HTTP_Addr: '127.0.0.1:9999' },
        Storage: { Backend: 'memory' },
        Trust_Service: { Type: 'local', Key_Algorithm: 'ed25519' },
        Caching: { Max_Age: { Current_Metadata: 10, Consistent_Metadata: '0' } },
        Repositories: { Gun_Prefixes: ['docker.io/', 'example.com/'] },
        Auth: {
          Type: 'token',
          Options: {
            realm: 'https://auth/token',
            service: 's',
            issuer: 'i',
            rootcertbundle: 'ca.pem',
          },
        },
      },
      { baseDir: '/etc/trustdesk', env: {} },
    );
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9999 });
    assert.deepEqual(c.trust, { type: 'local', keyAlgorithm: 'ed25519' });
    assert.equal(c.caching.currentMaxAge, 10);
    assert.equal(c.caching.consistentMaxAge, 0);
    assert.deepEqual(c.gunPrefixes, ['docker.io/', 'example.com/']);
    assert.deepEqual(c.auth, {
      type: 'token',
      options: {
        realm: 'https://auth/token',
        service: 's',
        issuer: 'i',
        rootcertbundle: '/etc/trustdesk/ca.pem',
      },
    });
  });
});

describe('env overrides', () => {
  const base = {
    server: { http_addr: ':4443' },
    storage: { backend: 'mysql', db_url: 'x@tcp(db)/n' },
    trust_service: { type: 'local' },
  };
  const parse = (env: NodeJS.ProcessEnv): ServerConfig =>
    parseServerConfig(base, { baseDir: '/cfg', env });

  test('TRUSTDESK_SERVER_<PATH> and the NOTARY_SERVER_<PATH> alias; TRUSTDESK wins', () => {
    assert.equal(parse({ TRUSTDESK_SERVER_STORAGE_BACKEND: 'memory' }).storage.backend, 'memory');
    assert.equal(parse({ NOTARY_SERVER_STORAGE_BACKEND: 'memory' }).storage.backend, 'memory');
    assert.equal(
      parse({ NOTARY_SERVER_STORAGE_BACKEND: 'mysql', TRUSTDESK_SERVER_STORAGE_BACKEND: 'memory' })
        .storage.backend,
      'memory',
    );
    assert.equal(parse({}).storage.backend, 'mysql');
  });

  test('nested keys, numbers, lists and file paths from env', () => {
    const c = parse({
      TRUSTDESK_SERVER_SERVER_HTTP_ADDR: '[::1]:5000',
      NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA: '42',
      TRUSTDESK_SERVER_REPOSITORIES_GUN_PREFIXES: 'a/ b/',
      TRUSTDESK_SERVER_SERVER_TLS_CERT_FILE: 'c.pem',
      TRUSTDESK_SERVER_SERVER_TLS_KEY_FILE: '/abs/k.pem',
      TRUSTDESK_SERVER_STORAGE_DB_URL: 'postgres://u@h/db',
      TRUSTDESK_SERVER_STORAGE_BACKEND: 'postgres',
      TRUSTDESK_SERVER_LOGGING_LEVEL: 'warning',
    });
    assert.deepEqual(c.listen, { host: '::1', port: 5000 });
    assert.equal(c.caching.currentMaxAge, 42);
    assert.deepEqual(c.gunPrefixes, ['a/', 'b/']);
    assert.deepEqual(c.tls, { certFile: '/cfg/c.pem', keyFile: '/abs/k.pem' });
    assert.deepEqual(c.storage, { backend: 'postgres', dbUrl: 'postgres://u@h/db' });
    assert.equal(c.logging.level, 'warning');
  });
});

describe('validation', () => {
  const ok = {
    server: { http_addr: ':4443' },
    storage: { backend: 'memory' },
    trust_service: { type: 'local' },
  };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no http_addr', { server: {} }, /http listen address required for server/],
    [
      'bad http_addr',
      { server: { http_addr: 'localhost' } },
      /server\.http_addr: "localhost" is not "host:port"/,
    ],
    ['port out of range', { server: { http_addr: ':70000' } }, /is not "host:port"/],
    [
      'cert without key',
      { server: { http_addr: ':1', tls_cert_file: 'c' } },
      /either include both a cert and key file/,
    ],
    [
      'client CA alone',
      { server: { http_addr: ':1', client_ca_file: 'ca' } },
      /either include both a cert and key file/,
    ],
    ['no backend', { storage: {} }, /storage\.backend is not set/],
    [
      'unknown backend',
      { storage: { backend: 'oracle' } },
      /oracle is not a supported storage backend/,
    ],
    [
      'SQL without db_url',
      { storage: { backend: 'postgres' } },
      /must provide a non-empty database source for postgres/,
    ],
    [
      'no trust type',
      { trust_service: {} },
      /must specify either a "local" or "remote" type for trust_service/,
    ],
    [
      'remote without algorithm',
      { trust_service: { ...REMOTE, key_algorithm: '' } },
      /invalid key algorithm configured/,
    ],
    [
      'rsa',
      { trust_service: { ...REMOTE, key_algorithm: 'rsa' } },
      /invalid key algorithm configured: rsa.*never generate RSA/,
    ],
    [
      'remote without hostname',
      { trust_service: { ...REMOTE, hostname: '' } },
      /trust_service\.hostname is required/,
    ],
    [
      'remote without CA',
      { trust_service: { ...REMOTE, tls_ca_file: '' } },
      /trust_service\.tls_ca_file is required/,
    ],
    [
      'client cert without key',
      { trust_service: { ...REMOTE, tls_client_key: '' } },
      /either pass both client key and cert, or neither/,
    ],
    [
      'negative max age',
      { caching: { max_age: { current_metadata: -1 } } },
      /must specify a cache-control max-age between 0 and 31536000/,
    ],
    [
      'max age over a year',
      { caching: { max_age: { consistent_metadata: 31536001 } } },
      /between 0 and 31536000/,
    ],
    [
      'max age not a number',
      { caching: { max_age: { current_metadata: 'soon' } } },
      /between 0 and 31536000/,
    ],
    [
      'prefix without slash',
      { repositories: { gun_prefixes: ['docker.io'] } },
      /invalid GUN prefix docker\.io/,
    ],
    [
      'absolute prefix',
      { repositories: { gun_prefixes: ['/abs/'] } },
      /invalid GUN prefix \/abs\//,
    ],
    [
      'dot-dot prefix',
      { repositories: { gun_prefixes: ['../up/'] } },
      /invalid GUN prefix \.\.\/up\//,
    ],
    [
      'unclean prefix',
      { repositories: { gun_prefixes: ['a//b/'] } },
      /invalid GUN prefix a\/\/b\//,
    ],
    ['log level', { logging: { level: 'loud' } }, /logging\.level: "loud" is not a log level/],
    ['auth type', { auth: { type: 'htpasswd' } }, /auth\.type "htpasswd" is not supported/],
    [
      'upload limit',
      { server: { http_addr: ':1', max_upload_bytes: 'lots' } },
      /server\.max_upload_bytes: must be an integer/,
    ],
    ['not an object', [] as unknown as Record<string, unknown>, /must be a JSON object/],
  ];
  for (const [name, over, message] of cases) {
    test(name, () => {
      const raw = Array.isArray(over) ? over : { ...ok, ...over };
      assert.throws(
        () => parseServerConfig(raw, { baseDir: '/', env: {} }),
        (e: unknown) =>
          e instanceof TrustdeskError && e.code === 'ERR_CONFIG' && message.test(e.message),
      );
    });
  }

  test('file problems name the file', () => {
    assert.throws(
      () => loadConfigFile(join(dir, 'missing.json'), {}),
      /Could not read config at .*missing\.json/,
    );
    assert.throws(
      () => loadConfigFile(write('broken.json', '{"server":'), {}),
      /broken\.json: not valid JSON/,
    );
    assert.throws(
      () => loadConfigFile(write('c.yaml', 'server: {}'), {}),
      /only JSON config files are supported/,
    );
    assert.throws(
      () => loadConfigFile(write('bad.json', { ...ok, storage: { backend: 'x' } }), {}),
      /bad\.json: x is not a supported storage backend/,
    );
  });
});

describe('defaults without a config file', () => {
  test('loopback, plain HTTP, SQLite and the local trust service in the data dir', () => {
    const c = defaultConfig({ TRUSTDESK_DATA_DIR: join(dir, 'data') });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 4443 });
    assert.equal(c.tls, undefined);
    assert.equal(c.dataDir, join(dir, 'data'));
    assert.deepEqual(c.storage, {
      backend: 'sqlite',
      dbUrl: join(dir, 'data', 'trustdesk-server.db'),
    });
    assert.deepEqual(c.trust, { type: 'local' });
    assert.equal(c.auth, undefined);
    assert.equal(c.caching.revalidateMs, DEFAULTS.revalidateMs);
  });

  test('env overrides apply to the defaults too', () => {
    const c = defaultConfig({
      TRUSTDESK_DATA_DIR: dir,
      TRUSTDESK_SERVER_SERVER_HTTP_ADDR: '127.0.0.1:0',
    });
    assert.equal(c.listen.port, 0);
  });
});

describe('flags', () => {
  test('Go flag syntax', () => {
    const spec = { config: 'string', debug: 'boolean', logf: 'string' } as const;
    const f = parseFlags(['-config', 'a.json', '--debug', '-logf=logfmt', 'rest'], spec);
    assert.deepEqual(
      [...f.values],
      [
        ['config', 'a.json'],
        ['debug', true],
        ['logf', 'logfmt'],
      ],
    );
    assert.deepEqual(f.rest, ['rest']);
    assert.throws(() => parseFlags(['-nope'], spec), /flag provided but not defined: -nope/);
    assert.throws(() => parseFlags(['-config'], spec), /flag needs an argument: -config/);
    assert.throws(() => parseFlags(['-debug=maybe'], spec), /invalid boolean value/);
  });
});

describe('TLS', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki.dispose());

  const tlsConfig = (cert: string, key: string): ServerConfig =>
    parseServerConfig(
      {
        server: { http_addr: '127.0.0.1:0', tls_cert_file: cert, tls_key_file: key },
        storage: { backend: 'memory' },
        trust_service: { type: 'local' },
        logging: { level: 'silent' },
      },
      { baseDir: dir, env: {} },
    );

  test('serves HTTPS with the configured certificate', async () => {
    const store = new MemoryMetaStore();
    const server = await createServer(tlsConfig(pki.server.certFile, pki.server.keyFile), {
      store,
      trust: await localTrust(store),
      defaultMetrics: false,
    });
    try {
      const { url, port } = await server.start();
      assert.match(url, /^https:\/\//);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port, path: '/v2/', ca: pki.ca.cert },
          (res) => {
            let s = '';
            res.on('data', (c: Buffer) => (s += c.toString()));
            res.on('end', () => resolve(s));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, '{}');
    } finally {
      await server.stop();
    }
  });

  test('refuses to start when the TLS files do not load (never falls back to HTTP)', async () => {
    for (const [cert, key, message] of [
      [
        join(dir, 'nope.crt'),
        pki.server.keyFile,
        /cannot read the TLS certificate .*refusing to start without TLS/,
      ],
      [pki.server.certFile, join(dir, 'nope.key'), /cannot read the TLS key/],
      [pki.server.certFile, pki.client.keyFile, /do not load: .*refusing to start without TLS/],
      [write('garbage.crt', 'not a cert'), pki.server.keyFile, /do not load/],
    ] as const) {
      const store = new MemoryMetaStore();
      await assert.rejects(
        createServer(tlsConfig(cert, key), { store, trust: await localTrust(store) }),
        (e: unknown) =>
          e instanceof TrustdeskError && e.code === 'ERR_CONFIG' && message.test(e.message),
      );
    }
  });
});

/** Runs the binary until `until` appears on stderr (then SIGTERM) or it exits by itself. */
function runBinary(
  args: string[],
  env: NodeJS.ProcessEnv,
  until?: RegExp,
): Promise<{ code: number | null; stderr: string; port?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'server/bin/trustdesk-server.ts', ...args],
      {
        env: { PATH: process.env.PATH, HOME: dir, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    let port: number | undefined;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /listening on https?:\/\/[^\s]*:(\d+)/.exec(stderr);
      if (until && until.test(stderr) && port === undefined) {
        port = m ? Number(m[1]) : 0;
        void fetch(`http://127.0.0.1:${port}/v2/`)
          .then((r) => r.text())
          .then((t) => {
            stderr += `\nGET /v2/ → ${t}\n`;
            child.kill('SIGTERM');
          }, reject);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr, ...(port !== undefined ? { port } : {}) }));
  });
}

describe('the trustdesk-server binary', () => {
  test('starts from a Go-style config, answers, and stops cleanly on SIGTERM', async () => {
    const cfg = write('bin.json', {
      server: { http_addr: '127.0.0.1:0' },
      storage: { backend: 'memory' },
      trust_service: { type: 'local' },
    });
    const r = await runBinary(
      ['-config', cfg, '-logf', 'logfmt'],
      { TRUSTDESK_SERVER_KEY_PASSPHRASE: 'pw' },
      /listening on/,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /GET \/v2\/ → \{\}/);
    assert.match(r.stderr, /level=info msg="shutting down" signal=SIGTERM/);
  });

  test('without a config it says where its data lives', async () => {
    const data = join(dir, 'bin-data');
    const r = await runBinary(
      [],
      { TRUSTDESK_DATA_DIR: data, TRUSTDESK_SERVER_SERVER_HTTP_ADDR: '127.0.0.1:0' },
      /listening on/,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stderr.includes(
        `no -config given: using ${data} (SQLite ${join(data, 'trustdesk-server.db')}`,
      ),
      r.stderr,
    );
  });

  test('a bad config or missing TLS file: message and exit 1, nothing listens', async () => {
    const cfg = write('tls-missing.json', {
      server: { http_addr: '127.0.0.1:0', tls_cert_file: 'nope.crt', tls_key_file: 'nope.key' },
      storage: { backend: 'memory' },
      trust_service: { type: 'local' },
    });
    const r = await runBinary(['-config', cfg], { TRUSTDESK_SERVER_KEY_PASSPHRASE: 'pw' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /trustdesk-server: cannot read the TLS certificate .*nope\.crt/);
    assert.doesNotMatch(r.stderr, /listening/);
    const usage = await runBinary(['-bogus'], {});
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /flag provided but not defined: -bogus/);
  });
});

describe('subcommands and the debug listener', () => {
  const io = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    let signal: ((s: string) => void) | undefined;
    let onErr: () => void = () => undefined;
    const printed = new Promise<void>((r) => (onErr = r));
    const cli = {
      argv,
      env,
      stdout: (s: string) => void out.push(s),
      stderr: (s: string) => {
        err.push(s);
        onErr();
      },
      readStdin: () => Promise.resolve('from stdin\n'),
      onSignal: (h: (s: string) => void) => void (signal = h),
      exit: (c: number) => assert.fail(`exit ${c}`),
    };
    return { cli, out, err, printed, signal: (s: string) => signal?.(s) };
  };

  test('hash-password reads the password from stdin or env, never argv', async () => {
    const a = io(['hash-password']);
    assert.equal(await runCli(a.cli), 0);
    assert.match(a.out.join(''), /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
    const b = io(['hash-password'], { TRUSTDESK_PASSWORD: 'pw' });
    assert.equal(await runCli(b.cli), 0);
    const hash = b.out.join('').trim();
    assert.ok(await verifyPassword(parsePasswordHash(hash, 'test'), 'pw'));
  });

  test('token-issuer serves tokens the server accepts', async () => {
    const pki = createTestPki();
    try {
      const signer = pki.issue('issuer', 'token-issuer', { usage: 'server' });
      const users = write('users.json', {
        users: {
          alice: {
            password: await hashPassword('secret'),
            access: [{ type: 'repository', name: 'example.com/app', actions: ['pull', 'push'] }],
          },
        },
      });
      const t = io([
        'token-issuer',
        '-issuer=iss',
        '-service',
        'notary',
        '-key',
        signer.keyFile,
        '-cert',
        signer.certFile,
        '-users',
        users,
        '-addr',
        '127.0.0.1:0',
      ]);
      const done = runCli(t.cli);
      await t.printed;
      const port = Number(/:(\d+)\n$/.exec(t.err.join(''))?.[1]);
      const res = await fetch(
        `http://127.0.0.1:${port}/?service=notary&scope=repository:example.com/app:pull`,
        { headers: { authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` } },
      );
      assert.equal(res.status, 200);
      const { token } = (await res.json()) as { token: string };
      const auth = loadTokenAuth(
        { realm: 'r', service: 'notary', issuer: 'iss', rootcertbundle: pki.ca.certFile },
        {},
      );
      const ok = await auth.authorize(`Bearer ${token}`, [
        { type: 'repository', name: 'example.com/app', actions: ['pull'] },
      ]);
      assert.equal(ok.ok, true);
      t.signal('SIGTERM');
      assert.equal(await done, 0);
    } finally {
      pki.dispose();
    }
  });

  test('-debug listener: process figures and a heap snapshot on request', async () => {
    const snapDir = mkdtempSync(join(tmpdir(), 'trustdesk-heap-'));
    const debug = await startDebugServer({ host: '127.0.0.1', port: 0, dir: snapDir });
    try {
      const vars = (await (await fetch(`http://127.0.0.1:${debug.port}/debug/vars`)).json()) as {
        pid: number;
        heap: { used_heap_size: number };
        eventLoopDelayMs: { p99: number };
      };
      assert.equal(vars.pid, process.pid);
      assert.ok(vars.heap.used_heap_size > 0);
      assert.equal(typeof vars.eventLoopDelayMs.p99, 'number');
      const snap = await fetch(`http://127.0.0.1:${debug.port}/debug/heapsnapshot`, {
        method: 'POST',
      });
      const { file } = (await snap.json()) as { file: string };
      assert.ok(file.startsWith(snapDir));
      assert.ok(statSync(file).size > 0);
      assert.equal((await fetch(`http://127.0.0.1:${debug.port}/other`)).status, 404);
    } finally {
      await debug.close();
      rmSync(snapDir, { recursive: true, force: true });
    }
  });
});
