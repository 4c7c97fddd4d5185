import { z } from 'zod';
import { env, loadSubgraphConfig } from '@tatkal/common';
import { parseTimeOfDay } from './domain/tatkal/windows.ts';

/** A time of day in IST, `HH:MM` or `HH:MM:SS`, as seconds after midnight (the error is prefixed with its name). */
const timeOfDay = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const seconds = parseTimeOfDay(v);
      if (seconds === null) {
        ctx.addIssue({ code: 'custom', message: `must be HH:MM or HH:MM:SS (IST, 24-hour), got "${v}"` });
        return z.NEVER;
      }
      return seconds;
    });

export function loadBookingConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadSubgraphConfig(
    4002,
    {
      REDIS_URL: env.redisUrl,
      AMQP_URL: env.amqpUrl,
      AUTH_JWKS_URL: env.httpUrl,
      DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
      /** Longest a booking transaction (an allocation batch with its lock waits) may run; past it: TRY_AGAIN. */
      DB_TX_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
      /** How long berths are held for payment. */
      HOLD_TTL_MS: z.coerce.number().int().min(1000).default(600_000),
      BOOKING_WINDOW_DAYS: z.coerce.number().int().min(1).max(120).default(60),
      /** How often the sweeper expires unpaid holds; 0 turns it off in this process. */
      SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
      /**
       * How long a Redis command may take before Redis counts as unavailable (the allocator then
       * decides without its lease, on the database's locks alone): fail fast by default.
       */
      REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(250),
      /** How often due charts (4 h and 30 min before departure) are looked for; 0 turns it off here. */
      CHART_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
      /** Outbox relay and payment-event consumer (docs/events.md); 'false' runs without RabbitMQ. */
      EVENTS_ENABLED: z
        .enum(['true', 'false', '1', '0'])
        .default('true')
        .transform((v) => v === 'true' || v === '1'),
      /** Prefix of exchange and queue names: '' in production, unique per test or environment. */
      EVENTS_PREFIX: z
        .string()
        .regex(/^[\w.-]*$/)
        .default(''),
      OUTBOX_INTERVAL_MS: z.coerce.number().int().min(10).default(200),
      /** How long reserveSeats waits for its outcome before answering QUEUED (docs/api.md). */
      QUEUE_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(2_000),
      /** Most requests the allocator decides per transaction. */
      ALLOCATION_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(500),
      /** Most waitlisted passengers per run and class; beyond it requests are refused (SOLD_OUT). */
      WAITLIST_LIMIT: z.coerce.number().int().min(0).default(500),
      /**
       * The allocator's Redis lease per run (renewed by every batch): after a crash the run's queue
       * waits this long before another instance takes it over.
       */
      ALLOCATOR_LEASE_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
      /**
       * When the windows open (IST, HH:MM or HH:MM:SS; docs/api.md, "Quotas and booking windows"):
       * Tatkal the day before the journey, AC and non-AC classes; GENERAL ARP days before.
       */
      TATKAL_OPENS_AC: timeOfDay('10:00'),
      TATKAL_OPENS_NON_AC: timeOfDay('11:00'),
      GENERAL_OPENS: timeOfDay('08:00'),
      /** Minutes before a Tatkal window opens that its waiting room takes requests (docs/api.md). */
      WAITING_ROOM_MINUTES: z.coerce.number().int().min(0).max(120).default(10),
      /**
       * Seat inventory is prepared for runs departing within this many days (the booking window and
       * a margin); 0 turns it off here.
       */
      INVENTORY_HORIZON_DAYS: z.coerce.number().int().min(0).max(400).default(62),
      INVENTORY_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
      /**
       * How often the run scheduler creates every train's runs up to BOOKING_WINDOW_DAYS + 1 days
       * ahead (docs/architecture.md, "Runs on a rolling horizon"); 0 turns it off here.
       */
      RUN_SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(0).default(3_600_000),
      /** Most reservations a run's cancellation (cancelRun) cancels per transaction. */
      RUN_CANCEL_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(200),
      /** Limits per person (docs/api.md, "Limits per person"); 0 turns one off. */
      /** Tatkal PNRs per account between 10:00 and 12:00 IST of a day. */
      TATKAL_PNRS_PER_ACCOUNT: z.coerce.number().int().min(0).default(2),
      /** Tatkal PNRs per client address (over all accounts) between 10:00 and 12:00 IST of a day. */
      TATKAL_PNRS_PER_ADDRESS: z.coerce.number().int().min(0).default(2),
      /** PNRs per account per calendar month (IST), and for an identity-verified account. */
      MONTHLY_PNRS: z.coerce.number().int().min(0).default(12),
      MONTHLY_PNRS_VERIFIED: z.coerce.number().int().min(0).default(24),
      /** Unpaid holds and queued requests per account at a time. */
      UNPAID_HOLDS_PER_ACCOUNT: z.coerce.number().int().min(0).default(4),
      /** Tatkal PNRs an AGENT account may have on one run. */
      AGENT_TATKAL_PNRS_PER_RUN: z.coerce.number().int().min(0).default(1),
      /**
       * Longest a run's availability is served from memory (docs/api.md, "Availability"); booking's
       * own writes invalidate it sooner. 0 turns the cache off.
       */
      AVAILABILITY_CACHE_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
    },
    source,
  );
}
export type BookingConfig = ReturnType<typeof loadBookingConfig>;
