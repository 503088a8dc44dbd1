// Human-readable times for reports.

import { formatRfc3339 } from '../tuf/metadata.js';

const UNITS: readonly [string, number][] = [
  ['year', 365 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

/** "in 2 years 364 days" for a positive delta, "3 days 4 hours ago" for a negative one. */
export function formatRelative(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const i = UNITS.findIndex(([, size]) => abs >= size);
  let text = 'less than a second';
  if (i >= 0) {
    // The largest unit, plus the next one down when it is not zero.
    const count = (j: number) => {
      const [name, size] = UNITS[j]!;
      const above = j > i ? UNITS[j - 1]![1] : Infinity;
      const n = Math.floor((abs % above) / size);
      return n === 0 ? '' : `${n} ${name}${n === 1 ? '' : 's'}`;
    };
    text = [count(i), i + 1 < UNITS.length ? count(i + 1) : ''].filter(Boolean).join(' ');
  }
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}

/** RFC 3339 in UTC, as Go writes it. */
export const isoMs = formatRfc3339;
