// Output shared by the repository commands: Go notary's tables (text/tabwriter with minwidth 4,
// padding 4, so scripts that parse `notary list`/`status` output parse ours), and the JSON
// shapes that more than one command prints.

import type { Change } from '../../client/changelist/change.js';
import type { ChangeEntry } from '../../client/changelist/file-changelist.js';
import type { PublishResult, Staged } from '../../client/repository.js';
import type { TargetEntry } from '../../client/update/repository-view.js';
import { errorJson } from '../output.js';

/**
 * Go's tabwriter.NewWriter(w, 4, 4, 4, ' ', 0) with a dashed line under the header. Plain loops:
 * `list` prints one row per target, tens of thousands of them.
 */
export function goTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h) => Math.max(4, h.length + 4));
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const w = (r[i] ?? '').length + 4;
      if (w > (widths[i] as number)) widths[i] = w;
    }
  }
  const line = (cells: readonly string[]): string => {
    let s = '';
    for (let i = 0; i < cells.length - 1; i++) s += (cells[i] as string).padEnd(widths[i] ?? 0);
    return s + (cells[cells.length - 1] ?? '') + '\n';
  };
  let out = line(head) + line(head.map((h) => '-'.repeat(h.length)));
  for (const r of rows) out += line(r);
  return out;
}

export interface ChangeJson {
  action: string;
  scope: string;
  type: string;
  path: string;
}

export function changeJson(c: Change): ChangeJson {
  return { action: c.action, scope: c.scope, type: c.type, path: c.path };
}

export function stagedJson(s: Staged): Array<ChangeJson & { file: string }> {
  return s.changes.map((c) => ({ file: c.file, ...changeJson(c.change) }));
}

export function statusJson(entries: readonly ChangeEntry[]): unknown[] {
  return entries.map((e) =>
    e.change
      ? { index: e.index, file: e.file, ...changeJson(e.change) }
      : {
          index: e.index,
          file: e.file,
          problem: errorJson(e.problem as NonNullable<ChangeEntry['problem']>),
        },
  );
}

export function targetJson(t: TargetEntry): Record<string, unknown> {
  return {
    name: t.name,
    role: t.role,
    length: t.length,
    hashes: t.hashes,
    ...(t.custom !== undefined ? { custom: t.custom } : {}),
  };
}

export function publishJson(r: PublishResult): Record<string, unknown> {
  return {
    initial: r.initial,
    applied: r.applied,
    uploaded: r.uploaded,
    serverSignsSnapshot: r.serverSignsSnapshot,
  };
}

/** What a publish changed, one line: `root v1, targets v2, snapshot v2`. */
export function publishSummary(r: PublishResult): string {
  if (r.uploaded.length === 0) return 'Nothing to publish: the server already has everything.';
  const files = r.uploaded.map((u) => `${u.role} v${u.version}`).join(', ');
  const snap = r.serverSignsSnapshot
    ? '; the server signs the snapshot and timestamp'
    : '; the server signs the timestamp';
  return `Uploaded ${files}${snap}.`;
}
