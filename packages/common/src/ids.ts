// Identifier shapes checked before a lookup, defined once.

/** A UUID in its canonical text form (any version). */
export const isUuid = (value: unknown): value is string =>
  typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** A PNR: ten digits. */
export const isPnr = (value: string): boolean => /^\d{10}$/.test(value);
