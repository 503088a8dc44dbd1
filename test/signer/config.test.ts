// trustdesk-signer's configuration (signer/config.ts): Go notary-signer config files read
// unchanged, env overrides, relative paths, the dev setup, and every refusal.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TrustdeskError } from '../../src/tuf/errors.js';
import { devConfig, loadConfigFile, parseSignerConfig } from '../../signer/config.js';
import { hasNotarySrc, notarySrc, requireService } from '../support/services.js';

const dir = mkdtempSync(join(tmpdir(), 'trustdesk-signer-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TLS = { tls_cert_file: '/x/s.crt', tls_key_file: '/x/s.key', client_ca_file: '/x/ca.crt' };

function parse(raw: unknown, env: NodeJS.ProcessEnv = {}, insecureDev = false) {
  return parseSignerConfig(raw, { baseDir: dir, env, insecureDev });
}

test("Go's own notary-signer fixture configs", (t) => {
  if (!requireService(t, hasNotarySrc(), 'the Go Notary source tree')) return;
  const fixtures = join(notarySrc(), 'fixtures');
  const local = loadConfigFile(join(fixtures, 'signer-config-local.json'), {});
  assert.deepEqual(local.listen, { host: undefined, port: 7899 });
  assert.deepEqual(local.tls, {
    certFile: join(fixtures, 'notary-signer.crt'),
    keyFile: join(fixtures, 'notary-signer.key'),
    clientCaFile: join(fixtures, 'notary-server.crt'),
  });
  assert.equal(local.storage.backend, 'memory');
  assert.equal(local.logging.level, 'debug');

  const pgFile = join(fixtures, 'signer-config.postgres.json');
  assert.throws(() => loadConfigFile(pgFile, {}), /must provide a default alias/);
  const pg = loadConfigFile(pgFile, { NOTARY_SIGNER_DEFAULT_ALIAS: 'timestamp_1' });
  assert.equal(pg.storage.backend, 'postgres');
  assert.equal(pg.storage.defaultAlias, 'timestamp_1');
  assert.match(
    pg.storage.dbUrl ?? '',
    /^postgres:\/\/signer@postgresql:5432\/notarysigner\?sslmode=verify-ca/,
  );

  assert.throws(
    () => loadConfigFile(join(fixtures, 'signer-config.json'), {}),
    /mysql is not an allowed backend.*use postgres/,
  );
});

test('env overrides: TRUSTDESK_SIGNER_<PATH> beats NOTARY_SIGNER_<PATH> beats the file', () => {
  const raw = {
    server: { grpc_addr: ':7899', ...TLS },
    storage: { backend: 'sqlite', db_url: 'keys.db' },
  };
  const c = parse(raw, {
    NOTARY_SIGNER_SERVER_GRPC_ADDR: '127.0.0.1:1',
    TRUSTDESK_SIGNER_SERVER_GRPC_ADDR: '127.0.0.1:2',
    NOTARY_SIGNER_STORAGE_DEFAULT_ALIAS: 'from-go-name',
    TRUSTDESK_SIGNER_LOGGING_LEVEL: 'warning',
  });
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 2 });
  assert.equal(c.storage.defaultAlias, 'from-go-name');
  assert.equal(c.storage.dbUrl, join(dir, 'keys.db'), 'relative SQLite paths are resolved');
  assert.equal(c.logging.level, 'warning');
  const viaTopLevel = parse(raw, {
    TRUSTDESK_SIGNER_DEFAULT_ALIAS: 'a',
    NOTARY_SIGNER_DEFAULT_ALIAS: 'b',
  });
  assert.equal(viaTopLevel.storage.defaultAlias, 'a');
  const memory = parse(raw, { TRUSTDESK_SIGNER_STORAGE_BACKEND: 'memory' });
  assert.equal(memory.storage.backend, 'memory');
});

test('relative paths are resolved against the config file, keys are case-insensitive', () => {
  const file = join(dir, 'signer.json');
  writeFileSync(
    file,
    JSON.stringify({
      Server: {
        GRPC_Addr: '127.0.0.1:7899',
        tls_cert_file: './s.crt',
        tls_key_file: 's.key',
        client_ca_file: '../ca.crt',
      },
      storage: { backend: 'sqlite3', db_url: 'db/keys.db', default_alias: 'x' },
    }),
  );
  const c = loadConfigFile(file, {});
  assert.deepEqual(c.tls, {
    certFile: join(dir, 's.crt'),
    keyFile: join(dir, 's.key'),
    clientCaFile: join(dir, '..', 'ca.crt'),
  });
  assert.equal(c.storage.backend, 'sqlite');
  assert.equal(c.storage.dbUrl, join(dir, 'db', 'keys.db'));
});

test('the dev setup without a config file', () => {
  const c = devConfig({ TRUSTDESK_SIGNER_DATA_DIR: dir });
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7899 });
  assert.equal(c.dataDir, dir);
  assert.equal(c.storage.backend, 'sqlite');
  assert.equal(c.storage.dbUrl, join(dir, 'signer.db'));
  assert.equal(c.storage.defaultAlias, 'dev');
  assert.equal(c.tls?.clientCaFile, join(dir, 'pki', 'ca.crt'));
});

test('refusals', () => {
  const ok = { server: { grpc_addr: '127.0.0.1:7899', ...TLS }, storage: { backend: 'memory' } };
  const cases: [string, unknown, RegExp, boolean?][] = [
    ['not an object', [], /must be a JSON object/],
    ['no grpc_addr', { ...ok, server: TLS }, /grpc listen address required/],
    ['a bad address', { ...ok, server: { ...TLS, grpc_addr: '7899' } }, /not "host:port"/],
    [
      'no TLS files',
      { ...ok, server: { grpc_addr: ':1' } },
      /tls_cert_file and server.tls_key_file are required/,
    ],
    [
      'no client CA',
      { ...ok, server: { ...ok.server, client_ca_file: '' } },
      /only serves mutual TLS/,
    ],
    [
      'plaintext on a public address',
      { ...ok, server: { grpc_addr: '0.0.0.0:1' } },
      /only on a loopback address/,
      true,
    ],
    ['no backend', { ...ok, storage: {} }, /storage.backend is not set/],
    [
      'rethinkdb',
      { ...ok, storage: { backend: 'rethinkdb' } },
      /rethinkdb is not an allowed backend/,
    ],
    [
      'sqlite without db_url',
      { ...ok, storage: { backend: 'sqlite', default_alias: 'a' } },
      /non-empty database source/,
    ],
    [
      'sqlite with a URL',
      { ...ok, storage: { backend: 'sqlite', db_url: 'postgres://x/y', default_alias: 'a' } },
      /is a file path/,
    ],
    [
      'postgres with a path',
      { ...ok, storage: { backend: 'postgres', db_url: '/tmp/x', default_alias: 'a' } },
      /postgres:\/\/ URL/,
    ],
    [
      'postgres without alias',
      { ...ok, storage: { backend: 'postgres', db_url: 'postgres://h/d' } },
      /default alias/,
    ],
    [
      'an alias with spaces',
      { ...ok, storage: { backend: 'sqlite', db_url: 'x.db', default_alias: 'a b' } },
      /passphrase alias/,
    ],
    [
      'pkcs11 without a token',
      { ...ok, storage: { backend: 'pkcs11' } },
      /token_label or storage.pkcs11.token_serial/,
    ],
    ['a bad log level', { ...ok, logging: { level: 'loud' } }, /not a log level/],
    [
      'a tiny message cap',
      { ...ok, server: { ...ok.server, max_message_bytes: 10 } },
      /max_message_bytes/,
    ],
    [
      'a non-string setting',
      { ...ok, storage: { backend: { x: 1 } } },
      /storage.backend: must be a string/,
    ],
  ];
  for (const [name, raw, message, insecure] of cases) {
    assert.throws(
      () => parse(raw, {}, insecure ?? false),
      (e: unknown) =>
        e instanceof TrustdeskError && e.code === 'ERR_CONFIG' && message.test(e.message),
      name,
    );
  }
});
