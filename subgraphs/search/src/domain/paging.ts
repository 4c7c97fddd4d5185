// Cursor paging over a ranked list: a cursor is the position after a hit, tied to the request it
// came from, so a cursor of one search is refused by another instead of silently paging wrong.
import { createHash } from 'node:crypto';
import { badInput } from '@tatkal/common';

export const MAX_PAGE_SIZE = 50;

export interface Page {
  offset: number;
  size: number;
  /** Identifies the request (normalized query and filters) the cursors belong to. */
  scope: string;
}

export function scopeOf(...parts: (string | null | undefined)[]): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('base64url')
    .slice(0, 10);
}

export function encodeCursor(scope: string, position: number): string {
  return Buffer.from(`${scope}:${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, scope: string): number {
  const decoded = /^[\w-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^([\w-]{10}):(\d{1,6})$/.exec(decoded);
  if (!m) throw badInput('after is not a cursor returned by this search', 'after');
  if (m[1] !== scope) throw badInput('after is a cursor of a different search', 'after');
  return Number(m[2]);
}

/** `first` (or the older `limit`) 1..50 and the offset `after` points to. */
export function pageOf(
  args: { first?: number | null; after?: string | null },
  scope: string,
  fallbackSize: number,
  sizeField = 'first',
): Page {
  const size = args.first ?? fallbackSize;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE)
    throw badInput(`${sizeField} must be between 1 and ${MAX_PAGE_SIZE}`, sizeField);
  const offset = args.after ? decodeCursor(args.after, scope) : 0;
  return { offset, size, scope };
}
