import { describe, expect, it } from 'vitest';
import { cpuPerUnit } from './processes.ts';

describe('cpuPerUnit', () => {
  it('gives ms per unit by process and sums only the product (not the bench client or the provider)', () => {
    const cpu = { booking: 2, payment: 1.5, postgres: 0.5, 'bench client': 3, provider: 1 };
    expect(cpuPerUnit(cpu, 500)).toEqual({
      productMs: 8,
      byProcess: { booking: 4, payment: 3, postgres: 1, 'bench client': 6, provider: 2 },
    });
  });

  it('has nothing to say without work or readings', () => {
    expect(cpuPerUnit(null, 10)).toBeNull();
    expect(cpuPerUnit({ booking: 1 }, 0)).toBeNull();
  });
});
