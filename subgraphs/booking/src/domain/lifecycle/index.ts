// The reservation lifecycle: the only code that changes a reservation's or a passenger's status
// or writes the reserveSeats idempotency record. One function per move (transitions.ts names
// them and the statuses each starts from); docs/architecture.md shows the tables.
export { cancel, activePassengers } from './cancel.ts';
export { decideBatch, refuseAlone, type Decided, type LoadedRequest, type SeatLookup } from './decide.ts';
export { expireDue } from './expire.ts';
export {
  confirm,
  confirmHeld,
  inTransaction,
  lockForConfirm,
  quickConfirm,
  release,
  type ConfirmOutcome,
} from './payment.ts';
export { promote, promoteStranded } from './promote.ts';
export { cancelledRunsWithActive, cancelOnRun, type RunBatch } from './runCancel.ts';
export { admitWaiting, PnrTaken, queueRequests, type IntakeItem } from './queue.ts';
export { queuedIds, runsWithQueued, waitingJourneys, waitlistedByRun } from './reads.ts';
export { RESERVE_OPERATION, reserveRecords, type ReserveRecords } from './records.ts';
export * from './transitions.ts';
export { type ChartNumber, type ChartOutcome, prepareChartIn, type WaitlistedPnr } from './chart.ts';
export { lockPools, planPromotions } from './promote.ts';
