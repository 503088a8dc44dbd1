// Typed errors with stable string codes and a one-line "what to do next".
// The TUI picks help text by code, `--json` prints the code, the app maps the category to an
// exit code. `tuf/` imports nothing of ours, so the base class for the whole project lives here.

export type ErrorCategory =
  | 'usage' // bad flags / arguments
  | 'input' // a file or value we were given is malformed
  | 'verification' // metadata failed a trust check
  | 'auth'
  | 'network'
  | 'not-found'
  | 'conflict'
  | 'internal';

interface CodeInfo {
  category: ErrorCategory;
  hint: string;
}

/** Every code the project uses. Adding a code here is the only way to create a new one. */
export const ERROR_CODES = {
  // input / parsing
  ERR_BAD_JSON: {
    category: 'input',
    hint: 'The file is not valid JSON; re-fetch or re-create it.',
  },
  ERR_NON_CANONICAL: {
    category: 'input',
    hint: 'Notary metadata allows only integers and well-formed strings; remove fractions, exponents and lone surrogates.',
  },
  ERR_UNENCODABLE: {
    category: 'input',
    hint: 'Go Notary cannot serialise control characters in strings; rename the target or remove the character.',
  },
  ERR_BAD_METADATA: {
    category: 'input',
    hint: 'The metadata does not have the structure Notary requires; check the named field.',
  },
  ERR_BAD_ROLE: {
    category: 'input',
    hint: 'Use root, targets, snapshot, timestamp or a valid targets/<name> delegation.',
  },
  ERR_BAD_KEY: {
    category: 'input',
    hint: 'The public key could not be parsed; check its keytype and encoding.',
  },
  ERR_UNSUPPORTED_KEY: {
    category: 'input',
    hint: 'Use an ecdsa (P-256), ed25519 or rsa (>= 2048 bit) key, optionally as an x509 certificate.',
  },
  ERR_BAD_CERT: {
    category: 'verification',
    hint: 'Root keys must be x509 certificates with CN equal to the GUN, unexpired and not SHA-1 signed.',
  },
  ERR_BAD_DER: {
    category: 'input',
    hint: 'The data is not valid DER (ASN.1); the certificate or key file is corrupt or truncated.',
  },
  ERR_TOO_LARGE: {
    category: 'verification',
    hint: 'The data is larger than its role allows (endless-data attack?); check the server.',
  },
  // verification
  ERR_BAD_SIGNATURE: {
    category: 'verification',
    hint: 'A signature does not verify; the file was altered or signed with another key.',
  },
  ERR_METHOD_MISMATCH: {
    category: 'verification',
    hint: 'The signature method does not match the key type; the signature is ignored.',
  },
  ERR_NO_SIGNATURES: {
    category: 'verification',
    hint: 'The file carries no signatures; sign it before use.',
  },
  ERR_THRESHOLD: {
    category: 'verification',
    hint: 'Too few valid signatures from the role keys; re-sign with enough keys (or witness the role).',
  },
  ERR_ROLLBACK: {
    category: 'verification',
    hint: 'The version is older than one already trusted (rollback attack?); do not trust this server.',
  },
  ERR_EXPIRED: {
    category: 'verification',
    hint: 'The metadata has expired (freeze attack, or the owner must re-sign it); publish to refresh it.',
  },
  ERR_HASH_MISMATCH: {
    category: 'verification',
    hint: 'The bytes do not match the hashes/length recorded for them (mix-and-match attack?); re-fetch.',
  },
  ERR_BAD_ROOT: {
    category: 'verification',
    hint: 'The root is not trusted: check the trust pinning, the GUN and that a rotation was cross-signed.',
  },
  ERR_ROOT_CHANGED: {
    category: 'verification',
    hint: 'The snapshot lists a different root than the trusted one; fetch the new root and update again.',
  },
  ERR_TRUST_PINNING: {
    category: 'verification',
    hint: 'The root does not satisfy the configured trust pinning (certs/ca/disable_tofu).',
  },
  ERR_BAD_DELEGATION: {
    category: 'verification',
    hint: 'The delegation is not declared by its parent, or the target path is outside its allowed paths.',
  },
  ERR_WRONG_TYPE: {
    category: 'verification',
    hint: 'The file is for a different role than expected.',
  },
  ERR_ORDER: {
    category: 'internal',
    hint: 'Metadata must be loaded in the order root, timestamp, snapshot, targets, delegations.',
  },
  ERR_BAD_HIERARCHY: {
    category: 'verification',
    hint: 'A role the update depends on is missing; include it or let the server manage it.',
  },
  ERR_MISSING_KEY: {
    category: 'input',
    hint: 'No private key for that role is available; import it or rotate to a key you hold.',
  },
  ERR_VALIDATION: {
    category: 'verification',
    hint: 'The update is invalid; see the message for the failing rule.',
  },
  // generic
  ERR_USAGE: { category: 'usage', hint: 'Run the command with --help to see its usage.' },
  ERR_NOT_FOUND: { category: 'not-found', hint: 'Check the path or name.' },
  ERR_IO: { category: 'input', hint: 'Check the path exists and is readable.' },
  ERR_INTERNAL: {
    category: 'internal',
    hint: 'This is a bug in trustdesk; please report it with the command you ran.',
  },
  // server trust service (S4)
  ERR_SIGNER_UNAVAILABLE: {
    category: 'network',
    hint: 'The signing service (notary-signer) cannot be reached; check that it runs and the TLS settings.',
  },
  ERR_SIGNER_FAILED: {
    category: 'internal',
    hint: 'The signing service refused the request; see its log for the reason.',
  },
  ERR_BAD_PASSPHRASE: {
    category: 'auth',
    hint: 'The passphrase does not decrypt the stored keys; use the one they were encrypted with.',
  },
  ERR_KEY_UNREADABLE: {
    category: 'verification',
    hint: 'A stored private key does not decrypt or does not match its public key (altered?); restore it or rotate the key.',
  },
  // keyring (K1/K2)
  ERR_KEY_NOT_FOUND: {
    category: 'not-found',
    hint: 'No stored key has that ID (prefix); run `trustdesk key list` to see the keys you hold.',
  },
  ERR_KEY_AMBIGUOUS: {
    category: 'usage',
    hint: 'Several keys start with that ID; give more characters of the key ID.',
  },
  ERR_KEY_EXISTS: {
    category: 'conflict',
    hint: 'A key with that ID is already stored; remove it first or keep the existing one.',
  },
  ERR_KEYFILE_CORRUPT: {
    category: 'verification',
    hint: 'The key file is truncated or was altered; restore it from a backup (or a paper backup) or rotate the key.',
  },
  ERR_UNSUPPORTED_FORMAT: {
    category: 'input',
    hint: 'The key file uses a format, version or cipher trustdesk does not read; re-export it as Go notary PKCS#8 (PBES2, AES-256-CBC).',
  },
  ERR_BAD_KEY_URI: {
    category: 'usage',
    hint: 'Use file:<path or key id>, keychain:<key id> or an RFC 7512 pkcs11: URI (token=…;object=…).',
  },
  ERR_WEAK_PASSPHRASE: {
    category: 'usage',
    hint: 'Passphrases must be at least 8 characters; use a password manager to generate one.',
  },
  ERR_NO_TTY: {
    category: 'usage',
    hint: 'No terminal to prompt on: set TRUSTDESK_<ROLE>_PASSPHRASE (or NOTARY_<ROLE>_PASSPHRASE), use --passphrase-file, or TRUSTDESK_PKCS11_PIN / a PIN file.',
  },
  ERR_ABORTED: {
    category: 'usage',
    hint: 'The operation was cancelled; nothing was changed.',
  },
  ERR_BAD_MNEMONIC: {
    category: 'input',
    hint: 'Check the 24 words against the paper backup, in order; only BIP39 English words are valid.',
  },
  ERR_KEY_MISMATCH: {
    category: 'verification',
    hint: 'The private key does not match the expected key ID; check you restored/imported the right key.',
  },
  ERR_NOT_EXTRACTABLE: {
    category: 'usage',
    hint: 'This key lives on a token or keychain that does not allow exporting it; back up the key before moving it there.',
  },
  ERR_KEYCHAIN_UNAVAILABLE: {
    category: 'auth',
    hint: 'No OS keychain is reachable: on Linux start/unlock a Secret Service (gnome-keyring) in a D-Bus session, or use the file: backend.',
  },
  ERR_TOKEN_NOT_FOUND: {
    category: 'not-found',
    hint: 'No PKCS#11 token with that label/serial is present; insert it, check the module path, and run `trustdesk key list`.',
  },
  ERR_BAD_PIN: {
    category: 'auth',
    hint: 'The token PIN is wrong; retry carefully — a few more failures lock the PIN.',
  },
  ERR_PIN_LOCKED: {
    category: 'auth',
    hint: 'The token PIN is locked; unblock it with the PUK/SO PIN (e.g. `ykman piv access unblock-pin`).',
  },
  ERR_PKCS11: {
    category: 'input',
    hint: 'The PKCS#11 module or token refused the operation; check the token is inserted, the module-path, and the CKR_ code in the message.',
  },
  // server auth (S3)
  ERR_CONFIG: {
    category: 'usage',
    hint: 'Fix the named option in the server configuration (or the file it points to).',
  },
  // client remote store, config and cache (C1)
  ERR_NETWORK: {
    category: 'network',
    hint: 'The trust server could not be reached; check the URL (-s / remote_server.url) and the network.',
  },
  ERR_TIMEOUT: {
    category: 'network',
    hint: 'The trust server did not answer in time (or sent data too slowly); retry later.',
  },
  ERR_TLS: {
    category: 'network',
    hint: "The server's TLS certificate was not accepted; set remote_server.root_ca (or --tlscacert) to the CA that issued it.",
  },
  ERR_OFFLINE: {
    category: 'network',
    hint: 'The trust server is not reachable (offline mode); connect and retry, or use --offline to work from the cache.',
  },
  ERR_SERVER_UNAVAILABLE: {
    category: 'network',
    hint: 'The trust server answered with an error status; retry later or check its logs.',
  },
  ERR_UNAUTHORIZED: {
    category: 'auth',
    hint: 'The server requires authorization: set NOTARY_AUTH to base64(user:password) with access to this GUN.',
  },
  ERR_REPO_NOT_FOUND: {
    category: 'not-found',
    hint: 'The repository does not exist on this server; check the GUN and -s, or `trustdesk init` and publish it.',
  },
  ERR_SERVER_REJECTED: {
    category: 'conflict',
    hint: 'The trust server rejected the operation; see the message for its reason.',
  },
  ERR_VERSION_CONFLICT: {
    category: 'conflict',
    hint: 'The server already holds a newer version; publish again so trustdesk updates first.',
  },
  ERR_BAD_GUN: {
    category: 'usage',
    hint: 'A GUN is a name like example.com/org/app: no empty, "." or ".." segments, no leading "/", no "*", whitespace or control characters.',
  },
  ERR_BAD_CONFIG: {
    category: 'usage',
    hint: 'Fix the named key in the client config file (~/.trustdesk/config.json, -c or TRUSTDESK_CONFIG).',
  },
  // the per-user agent (src/agent)
  ERR_AGENT_NOT_RUNNING: {
    category: 'not-found',
    hint: 'No trustdesk agent answers on that socket; start one with `trustdesk agent start` (check --socket / TRUSTDESK_AGENT_SOCK).',
  },
  ERR_AGENT_RUNNING: {
    category: 'conflict',
    hint: 'An agent already serves that socket; use it, or `trustdesk agent stop` it first.',
  },
  ERR_AGENT_SOCKET: {
    category: 'input',
    hint: 'The agent socket must live in a directory of yours with mode 0700 (not a symlink); fix or remove it, or choose another --socket.',
  },
  ERR_AGENT_FAILED: {
    category: 'internal',
    hint: 'The agent did not start or answer as expected; see agent.log beside its socket.',
  },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TrustdeskError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly category: ErrorCategory;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.category = ERROR_CODES[code].category;
    this.hint = opts.hint ?? ERROR_CODES[code].hint;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string } {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** An error raised by the TUF core (parsing, verification, building). */
export class TufError extends TrustdeskError {}

export function isTrustdeskError(e: unknown): e is TrustdeskError {
  return e instanceof TrustdeskError;
}

/** Wraps a thrown value so callers always see a TrustdeskError. */
export function asTrustdeskError(e: unknown): TrustdeskError {
  if (e instanceof TrustdeskError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new TrustdeskError('ERR_INTERNAL', msg, { cause: e });
}
