import { describe, expect, it } from 'vitest';
import { serviceTable } from './sql.ts';

describe('serviceTable', () => {
  it("takes the service's schema or a schema-qualified table, and nothing that is not an identifier", () => {
    expect(serviceTable('booking', 'outbox')).toBe('booking.outbox');
    expect(serviceTable('search', 'inbox')).toBe('search.inbox');
    expect(serviceTable('payment.events_out', 'outbox')).toBe('payment.events_out');
    for (const bad of ['', 'Booking', 'a.b.c', 'booking.', 'booking; DROP TABLE x', '"booking"'])
      expect(() => serviceTable(bad, 'outbox'), bad).toThrow(/^bad outbox table name/);
  });
});
