-- AlterEnum


ALTER TYPE "booking"."ReservationStatus" ADD VALUE 'QUEUED';
ALTER TYPE "booking"."ReservationStatus" ADD VALUE 'REFUSED';

-- AlterEnum


ALTER TYPE "booking"."PassengerStatus" ADD VALUE 'QUEUED';
ALTER TYPE "booking"."PassengerStatus" ADD VALUE 'REFUSED';

-- AlterTable
ALTER TABLE "booking"."reservations" ADD COLUMN     "allow_waitlist" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "queue_ticket" INTEGER,
ADD COLUMN     "refusal_code" TEXT,
ADD COLUMN     "idempotency_key" TEXT;

-- AlterTable
ALTER TABLE "booking"."passengers" ADD COLUMN     "requested_seat_id" INTEGER;

-- CreateTable
CREATE TABLE "booking"."run_queues" (
    "run_id" UUID NOT NULL,
    "last_ticket" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "run_queues_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "booking"."run_allocators" (
    "run_id" UUID NOT NULL,
    "fence" BIGINT NOT NULL DEFAULT 0,
    "done_ticket" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_allocators_pkey" PRIMARY KEY ("run_id")
);

-- CreateIndex
CREATE INDEX "reservations_run_id_status_queue_ticket_idx" ON "booking"."reservations"("run_id", "status", "queue_ticket");

