import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, makeFormatError } from './errors.ts';

describe('formatError', () => {
  const logged: unknown[] = [];
  const production = makeFormatError({ exposeDetails: false, log: (e) => logged.push(e) });

  it('passes client errors with their code and without a stack trace', () => {
    const err = new AppError(ErrorCode.SEAT_UNAVAILABLE, 'Berth B1-17 is taken');
    const out = production(
      { message: err.message, extensions: { code: 'SEAT_UNAVAILABLE', stacktrace: ['at x'] } },
      err,
    );
    expect(out).toEqual({ message: 'Berth B1-17 is taken', extensions: { code: 'SEAT_UNAVAILABLE' } });
  });

  it('hides internal errors (SQL, stack) behind INTERNAL_SERVER_ERROR and logs them', () => {
    const err = new GraphQLError('relation "booking.seats" does not exist', { originalError: new Error('SQL boom') });
    const out = production(
      { message: err.message, extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at db'] } },
      err,
    );
    expect(out).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(logged).toHaveLength(1);
  });

  it('answers a retryable database error (pool time-out, deadlock) as TRY_AGAIN, unlogged', () => {
    logged.length = 0;
    for (const cause of [
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('Transaction API error'), { code: 'P2028' }),
      new Error('deadlock detected'),
    ]) {
      const err = new GraphQLError(cause.message, { originalError: cause, path: ['cancelReservation'] });
      const out = production(
        { message: err.message, path: ['cancelReservation'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
        err,
      );
      expect(out).toEqual({
        message: 'The system is busy; retry this request with the same idempotency key',
        path: ['cancelReservation'],
        extensions: { retryable: true, code: 'TRY_AGAIN' },
      });
    }
    expect(logged).toHaveLength(0);
  });
});
