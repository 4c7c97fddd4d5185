import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, LeaseManager, Logger, Stored } from '@tatkal/common';
import type { LayoutCache } from '../layout.ts';
import type { ReservationSettings } from '../types.ts';
import type { BatchReport } from './batch.ts';

export interface AllocatorDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  layouts: LayoutCache;
  leases: LeaseManager;
  settings: ReservationSettings;
  logger: Logger;
  /** After each committed batch: settle waiters, publish refusal state and progress, metrics. */
  onBatch: (report: BatchReport) => void;
  /** A request that failed alone, for good (its record is forgotten: a retry starts afresh). */
  onFailed: (reservationId: string, stored: Stored) => void;
}
