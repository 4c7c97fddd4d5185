// One owner for the reservation lifecycle (src/domain/lifecycle/): outside it, no booking source
// file changes a reservation's or a passenger's status or writes the reserveSeats record. Read
// with TypeScript's parser: SQL in tagged templates ($queryRaw, $executeRaw, Prisma.sql) and
// Prisma model writes, so a comment or a string elsewhere cannot trip it and a write cannot hide.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the cases below are source text with SQL templates
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ReservationStatus } from '@tatkal/db';

const SRC = join(import.meta.dirname, '../src');
const LIFECYCLE = join(SRC, 'domain/lifecycle');
const STATUS_LITERAL = new RegExp(`'(${Object.values(ReservationStatus).join('|')})'`);
/** SQL that writes a status, or creates reservations or passengers (whose status it sets). */
const STATUS_WRITE = [
  /UPDATE\s+booking\.(reservations|passengers)\b[\s\S]*?\bSET\b[\s\S]*?\bstatus\s*=/i,
  /INSERT\s+INTO\s+booking\.(reservations|passengers)\b/i,
];
const MODEL_WRITES = new Set(['create', 'createMany', 'update', 'updateMany', 'upsert']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Where a file breaks the rule: SQL with a status literal or a status write, or a model write of a status. */
function violations(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (node: ts.Node) => `${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node) => {
    if (ts.isTaggedTemplateExpression(node)) {
      const sql = ts.isNoSubstitutionTemplateLiteral(node.template)
        ? node.template.text
        : [node.template.head.text, ...node.template.templateSpans.map((s) => s.literal.text)].join(' $ ');
      if (STATUS_LITERAL.test(sql)) found.push(`${at(node)} status literal in SQL`);
      if (STATUS_WRITE.some((re) => re.test(sql))) found.push(`${at(node)} status written in SQL`);
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      MODEL_WRITES.has(node.expression.name.text) &&
      /\b(reservation|passenger)$/.test(node.expression.expression.getText(source)) &&
      /\bstatus\s*:/.test(node.arguments.map((a) => a.getText(source)).join(' '))
    )
      found.push(`${at(node)} status written through Prisma`);
    if (ts.isStringLiteral(node) && node.text === 'reserveSeats') found.push(`${at(node)} the reserveSeats record`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the reservation lifecycle has one owner', () => {
  it('no booking source outside domain/lifecycle writes a status or the reserveSeats record', () => {
    const outside = sourceFiles(SRC).filter((f) => !f.startsWith(LIFECYCLE));
    expect(outside.length).toBeGreaterThan(20);
    const found = outside.flatMap((f) => violations(relative(SRC, f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });

  it('the lifecycle module itself is where those writes are (the check finds them there)', () => {
    const inside = sourceFiles(LIFECYCLE).flatMap((f) => violations(relative(SRC, f), readFileSync(f, 'utf8')));
    expect(inside.some((v) => v.includes('status written in SQL'))).toBe(true);
    expect(inside.some((v) => v.includes('the reserveSeats record'))).toBe(true);
  });

  it.each([
    ["db.$queryRaw`UPDATE booking.reservations SET status = 'HELD' WHERE id = ${id}`", 'status literal in SQL'],
    [
      'tx.$executeRaw`UPDATE booking.passengers p SET seat_id = 1, status = ${s} WHERE id = ${id}`',
      'status written in SQL',
    ],
    ["tx.$queryRaw`SELECT id FROM booking.reservations WHERE status = 'QUEUED'`", 'status literal in SQL'],
    ['tx.$executeRaw`INSERT INTO booking.reservations (id) VALUES (${id})`', 'status written in SQL'],
    ["tx.reservation.update({ where: { id }, data: { status: 'CANCELLED' } })", 'status written through Prisma'],
    ['tx.passenger.updateMany({ where: { id }, data: { status: next } })', 'status written through Prisma'],
    ["idempotency.complete(tx, 'reserveSeats', [])", 'the reserveSeats record'],
  ])('flags %s', (code, what) => {
    expect(violations('x.ts', code).join()).toContain(what);
  });

  it.each([
    'tx.$queryRaw`SELECT id FROM booking.reservations WHERE status = ${QUEUED}::booking."ReservationStatus"`',
    "tx.reservation.findMany({ where: { status: 'HELD' } })",
    "// UPDATE booking.reservations SET status = 'HELD'",
    'tx.$executeRaw`UPDATE booking.run_seats SET occupied_mask = 0 WHERE run_id = ${id}`',
  ])('leaves alone %s', (code) => {
    expect(violations('x.ts', code)).toEqual([]);
  });
});
