// Mutual TLS of trustdesk-signer (signer/client-auth.ts, signer/listener.ts): who gets in, who
// is refused (and how that is counted and logged), and Go's partial-chain client_ca_file —
// a file holding an intermediate, or notary-server.crt (leaf + intermediate) as Go's own
// configs do.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { clientChainProblem } from '../../signer/client-auth.js';
import { DevCa } from '../../signer/dev-pki.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { SignerClient, startTestSigner, statusOf, testConfig, type TestSigner } from './support.js';

let pki: TestPki;
const DAY = 86_400_000;

before(() => {
  pki = createTestPki();
});
after(() => pki.dispose());

function write(name: string, text: string): string {
  const f = join(pki.dir, name);
  writeFileSync(f, text);
  return f;
}

async function refusedCount(signer: TestSigner, reason: string): Promise<number> {
  const m = await signer.metrics.registry
    .getSingleMetric('trustdesk_signer_tls_refused_total')
    ?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

async function withSigner(
  clientCaFile: string,
  fn: (s: TestSigner) => Promise<void>,
): Promise<void> {
  const signer = await startTestSigner(testConfig({ server: pki.server, clientCaFile }));
  try {
    await fn(signer);
  } finally {
    await signer.close(0);
  }
}

/** Creates a key as `client` would; resolves to the gRPC status (-1 = it worked). */
async function tryClient(
  signer: TestSigner,
  client?: { certPem: string; keyPem: string },
): Promise<number> {
  const c = new SignerClient(`127.0.0.1:${signer.port}`, SignerClient.mtls(pki.ca.cert, client));
  try {
    return (await statusOf(c.createKey('ecdsa', 'example.com/mtls', 'timestamp'))).code;
  } finally {
    c.close();
  }
}

describe('client CA = a self-signed root (the usual setup)', () => {
  const now = Date.now();
  const cases: {
    name: string;
    client: () => { certPem: string; keyPem: string } | undefined;
    ok: boolean;
    reason?: string;
  }[] = [
    {
      name: 'a leaf the CA issued',
      client: () => ({ certPem: pki.client.cert, keyPem: pki.client.key }),
      ok: true,
    },
    { name: 'no client certificate', client: () => undefined, ok: false, reason: 'no_certificate' },
    {
      name: 'a leaf from another CA',
      client: () => new DevCa(now).issue('intruder', 'client'),
      ok: false,
      reason: 'untrusted',
    },
    {
      name: 'a self-signed CA certificate',
      client: () => {
        const rogue = new DevCa(now, DAY, 'rogue CA');
        return { certPem: rogue.certPem, keyPem: rogue.keyPem };
      },
      ok: false,
      reason: 'ca_certificate',
    },
    {
      name: 'a server-only certificate (ExtKeyUsage serverAuth)',
      client: () => ({ certPem: pki.server.cert, keyPem: pki.server.key }),
      ok: false,
      reason: 'untrusted',
    },
  ];
  for (const c of cases) {
    test(c.name, () =>
      withSigner(pki.ca.certFile, async (signer) => {
        const before = c.reason ? await refusedCount(signer, c.reason) : 0;
        const code = await tryClient(signer, c.client());
        if (c.ok) {
          assert.equal(code, -1, 'the call works');
          return;
        }
        assert.equal(code, grpc.status.UNAVAILABLE, 'the connection is refused');
        assert.equal(await refusedCount(signer, c.reason as string), before + 1);
        const line = signer.logs.find((l) => l.reason === c.reason);
        assert.ok(line, `the refusal is logged with reason ${c.reason}`);
        assert.equal(signer.logs.filter((l) => l.rpc === 'CreateKey').length, 0, 'no RPC ran');
      }),
    );
  }
});

describe('partial chains (Go accepts a chain that ends at any configured certificate)', () => {
  const now = Date.now();
  const root = new DevCa(now, DAY, 'notary root');
  const inter = root.intermediate('notary intermediate');
  const otherInter = root.intermediate('another intermediate');
  const leaf = inter.issue('notary-server', 'client');
  const chain = { certPem: leaf.certPem + inter.certPem, keyPem: leaf.keyPem };
  const caAsClient = { certPem: inter.certPem, keyPem: inter.keyPem };

  const cases: {
    name: string;
    caFile: () => string;
    client: { certPem: string; keyPem: string };
    ok: boolean;
  }[] = [
    {
      name: 'CA file = the intermediate, client sends leaf + intermediate',
      caFile: () => write('inter.crt', inter.certPem),
      client: chain,
      ok: true,
    },
    {
      name: 'CA file = the intermediate, client sends only its leaf',
      caFile: () => write('inter.crt', inter.certPem),
      client: leaf,
      ok: true,
    },
    {
      name: "CA file = leaf + intermediate (Go's notary-server.crt), client sends that chain",
      caFile: () => write('notary-server.crt', leaf.certPem + inter.certPem),
      client: chain,
      ok: true,
    },
    {
      name: 'CA file = the root, client sends leaf + intermediate',
      caFile: () => write('root.crt', root.certPem),
      client: chain,
      ok: true,
    },
    {
      name: 'CA file = the root, client sends only its leaf',
      caFile: () => write('root.crt', root.certPem),
      client: leaf,
      ok: false,
    },
    {
      name: 'CA file = another intermediate of the same root',
      caFile: () => write('other.crt', otherInter.certPem),
      client: chain,
      ok: false,
    },
    {
      name: 'the intermediate CA itself as client certificate',
      caFile: () => write('root.crt', root.certPem),
      client: caAsClient,
      ok: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () =>
      withSigner(c.caFile(), async (signer) => {
        const code = await tryClient(signer, c.client);
        assert.equal(code, c.ok ? -1 : grpc.status.UNAVAILABLE);
      }),
    );
  }
});

describe('clientChainProblem: time and constraints', () => {
  const now = Date.now();
  const root = new DevCa(now, DAY, 'root');
  const leaf = root.issue('client', 'client');
  const x = (pem: string) => new X509Certificate(pem);
  const cases: { name: string; at: number; presented: string[]; problem: RegExp | undefined }[] = [
    { name: 'valid now', at: now, presented: [leaf.certPem], problem: undefined },
    {
      name: 'after notAfter',
      at: now + 2 * DAY,
      presented: [leaf.certPem],
      problem: /not valid now/,
    },
    {
      name: 'before notBefore',
      at: now - 2 * DAY,
      presented: [leaf.certPem],
      problem: /not valid now/,
    },
    { name: 'nothing presented', at: now, presented: [], problem: /no certificate/ },
    { name: 'a CA as leaf', at: now, presented: [root.certPem], problem: /is a CA certificate/ },
    {
      name: 'a server certificate',
      at: now,
      presented: [root.issue('srv', 'server', ['localhost']).certPem],
      problem: /client authentication/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = clientChainProblem(c.presented.map(x), [x(root.certPem)], c.at);
      if (c.problem) assert.match(got ?? '', c.problem);
      else assert.equal(got, undefined);
    });
  }
});
