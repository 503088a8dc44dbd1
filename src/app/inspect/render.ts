// Human rendering of an inspect report. The JSON form is the report object itself.

import type { Style } from '../output.js';
import type { InspectReport, KeyReport, TargetReport } from './report.js';

/** Targets listed without --verbose. */
export const TARGETS_SHOWN = 20;

function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    (
      indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')
    ).trimEnd(),
  );
}

function keyLines(k: KeyReport, s: Style): string[] {
  const used = k.usedBy.length ? k.usedBy.join(', ') : s.dim('unused');
  const out = [`  ${k.id}  ${k.keytype}  ${used}`];
  if (k.canonicalId !== k.id) out.push(`    canonical ID ${k.canonicalId}`);
  const c = k.certificate;
  if (c) {
    const when = `${c.notBefore} → ${c.notAfter}`;
    out.push(
      `    certificate CN=${c.subjectCN}${c.issuerCN !== c.subjectCN ? ` (issuer CN=${c.issuerCN})` : ''}, ${c.signatureAlgorithm}${c.isCA ? ', CA' : ''}`,
      `    valid ${c.current ? when : s.red(`${when} (not valid now)`)}`,
    );
  }
  if (k.problem) out.push(`    ${s.red(`problem: ${k.problem}`)}`);
  return out;
}

function fileMetaRows(items: TargetReport[]): string[][] {
  return items.map((t) => [t.name, String(t.length), t.sha256 ?? '(no sha256)']);
}

export function renderInspect(r: InspectReport, s: Style, verbose: boolean): string {
  const out: string[] = [];
  const head = `${s.bold(r.file)}: ${r.role} (${r.type}) version ${r.version}`;
  out.push(head, `  ${r.size} bytes, sha256 ${r.sha256}`);
  const rel = r.expired ? s.red(`expired ${r.expiresRelative}`) : r.expiresRelative;
  out.push(`  expires ${r.expires} (${rel})`);
  if (r.consistentSnapshot !== undefined) out.push(`  consistent_snapshot ${r.consistentSnapshot}`);

  if (r.roles) {
    out.push('', s.bold('roles'));
    out.push(
      ...table(r.roles.map((x) => [x.name, `threshold ${x.threshold}`, x.keyids.join(' ')])),
    );
  }
  if (r.keys.length || r.type === 'Root') {
    out.push(
      '',
      s.bold(r.type === 'Root' ? `keys (${r.keys.length})` : `delegation keys (${r.keys.length})`),
    );
    for (const k of r.keys) out.push(...keyLines(k, s));
  }
  if (r.delegations) {
    out.push('', s.bold(`delegations (${r.delegations.length})`));
    out.push(
      ...table(
        r.delegations.map((d) => [
          d.name,
          `threshold ${d.threshold}`,
          `paths ${d.paths.length ? d.paths.map((p) => JSON.stringify(p)).join(',') : '(none)'}`,
          d.keyids.join(' '),
        ]),
      ),
    );
  }
  if (r.targets) {
    out.push('', s.bold(`targets (${r.targets.count})`));
    const shown = verbose ? r.targets.items : r.targets.items.slice(0, TARGETS_SHOWN);
    out.push(...table(fileMetaRows(shown)));
    if (shown.length < r.targets.count) {
      out.push(s.dim(`  … and ${r.targets.count - shown.length} more (-v lists all)`));
    }
  }
  if (r.meta) {
    out.push('', s.bold('meta'));
    out.push(...table(fileMetaRows(r.meta)));
  }

  out.push('', s.bold(`signatures (${r.signatures.length})`));
  for (const sig of r.signatures) {
    const mark =
      sig.status === 'valid' ? s.green('✓') : sig.status === 'unchecked' ? s.dim('?') : s.red('✗');
    const why =
      sig.status === 'valid'
        ? `valid ${sig.keytype ?? ''} key, counts for ${sig.countsFor.join('; ')}`
        : sig.status;
    out.push(`  ${mark} ${sig.keyid}  ${sig.method}  ${why}`);
  }

  out.push('', s.bold('checks'));
  if (r.checks.length === 0) out.push(s.dim('  (none)'));
  for (const c of r.checks) {
    out.push(
      `  ${c.ok ? s.green('✓') : s.red('✗')} ${c.name}: ${c.ok ? c.message : `[${c.code}] ${c.message}`}`,
    );
  }
  for (const n of r.notes) out.push(s.yellow(`  note: ${n}`));
  return out.join('\n') + '\n';
}
