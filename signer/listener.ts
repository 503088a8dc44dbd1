// The signer's listening socket. We terminate TLS ourselves and hand each accepted, verified
// connection to grpc-js through its connection injector (HTTP/2 over the decrypted TLS socket),
// because the client-certificate rules (client-auth.ts) must run before any RPC and Node's TLS
// stack cannot anchor a chain at an intermediate.
//
// Rules:
//   - TLS ≥ 1.2, ALPN h2, our certificate chain; the client must present a certificate
//     (requestCert); OpenSSL's own verdict is ignored and client-auth.ts decides, right after
//     the handshake and before a single byte of HTTP/2 is read; a refused connection is
//     destroyed and logged (reason, peer address, the certificate's CN when there is one);
//   - an accepted connection's certificate CN is kept by peer address ("ip:port", what
//     call.getPeer() answers) while the connection lives, so handlers can name the caller
//     without re-reading the certificate on every RPC;
//   - handshakes must finish within handshakeTimeoutMs;
//   - plaintext (no `tls`) exists only for --insecure-dev;
//   - close(graceMs): stop accepting, let in-flight RPCs finish for up to graceMs, then cut
//     whatever is left.

import { type X509Certificate } from 'node:crypto';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadCertBundle } from '../src/tuf/x509.js';
import { clientChainProblem, peerChain } from './client-auth.js';
import { type RefusalReason } from './metrics.js';

export interface ListenerTls {
  certPem: string;
  keyPem: string;
  clientCaPem: string;
}

export interface Refusal {
  reason: RefusalReason;
  detail: string;
  remote: string;
  cn?: string;
}

export interface ListenerOptions {
  host: string | undefined;
  port: number;
  tls?: ListenerTls;
  onRefused: (r: Refusal) => void;
  handshakeTimeoutMs?: number;
  now?: () => number;
}

/** The peer as grpc-js's call.getPeer() writes it. */
function remoteOf(s: Socket): string {
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
}

function cnOf(cert: X509Certificate | undefined): string | undefined {
  return cert ? /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] : undefined;
}

export class GrpcListener {
  readonly #server: NetServer;
  readonly #injector: grpc.ConnectionInjector;
  readonly #sockets = new Set<Socket>();
  readonly #callers = new Map<string, string>();

  private constructor(grpcServer: grpc.Server, opts: ListenerOptions) {
    this.#injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.#server = opts.tls
      ? this.#tlsServer(opts.tls, opts)
      : createNetServer((socket) => this.#injector.injectConnection(socket));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
  }

  static async start(grpcServer: grpc.Server, opts: ListenerOptions): Promise<GrpcListener> {
    const listener = new GrpcListener(grpcServer, opts);
    const server = listener.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  #tlsServer(files: ListenerTls, opts: ListenerOptions): NetServer {
    const anchors = loadCertBundle(files.clientCaPem);
    const now = opts.now ?? Date.now;
    const tls = createTlsServer({
      cert: files.certPem,
      key: files.keyPem,
      // Only used for the CertificateRequest's list of acceptable issuers.
      ca: files.clientCaPem,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.2',
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      noDelay: true,
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      const chain = peerChain(socket);
      const problem = clientChainProblem(chain, anchors, now());
      const peer = remoteOf(socket);
      const cn = cnOf(chain[0]);
      if (problem) {
        opts.onRefused({
          reason: !chain[0]
            ? 'no_certificate'
            : /is a CA certificate/.test(problem)
              ? 'ca_certificate'
              : 'untrusted',
          detail: problem,
          remote: peer,
          ...(cn !== undefined ? { cn } : {}),
        });
        socket.destroy();
        return;
      }
      this.#callers.set(peer, cn ?? '');
      socket.once('close', () => this.#callers.delete(peer));
      this.#injector.injectConnection(socket);
    });
    tls.on('tlsClientError', (err, socket) => {
      opts.onRefused({ reason: 'handshake', detail: err.message, remote: remoteOf(socket) });
      socket.destroy();
    });
    return tls;
  }

  /** The CN of the client certificate of a live connection, by peer "ip:port". */
  callerOf(peer: string): string | undefined {
    return this.#callers.get(peer);
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  async close(graceMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#injector.drain(graceMs);
    const deadline = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.#injector.destroy();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}
