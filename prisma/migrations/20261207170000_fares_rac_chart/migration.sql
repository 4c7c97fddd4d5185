-- Fares, RAC and chart preparation (docs/api.md "Fares", "RAC", "Chart preparation").
-- Written by hand in Prisma's format (the engines could not be reached for `migrate diff`).

-- AlterEnum
ALTER TYPE "booking"."PassengerStatus" ADD VALUE 'RAC';

-- AlterTable
ALTER TABLE "booking"."trains" ADD COLUMN "superfast" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "booking"."coaches" ADD COLUMN "rac_berths" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "booking"."run_seats" ADD COLUMN "rac" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "booking"."train_runs" ADD COLUMN "chart_prepared_at" TIMESTAMPTZ(3),
ADD COLUMN "second_chart_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "booking"."reservations" ADD COLUMN "fare" JSONB;

-- AlterTable
ALTER TABLE "booking"."passengers" ADD COLUMN "rac_number" INTEGER,
ADD COLUMN "rac_slot" SMALLINT,
ADD COLUMN "refund_paise" INTEGER;

-- AlterTable
ALTER TABLE "booking"."waitlist_counters" ADD COLUMN "last_rac" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "booking"."rac_slots" (
    "run_id" UUID NOT NULL,
    "seat_id" INTEGER NOT NULL,
    "slot" SMALLINT NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "occupied_mask" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "rac_slots_pkey" PRIMARY KEY ("run_id","seat_id","slot"),
    -- An RAC berth has two halves: never a third passenger on it.
    CONSTRAINT "rac_slots_slot_check" CHECK ("slot" IN (1, 2))
);

-- CreateTable
CREATE TABLE "booking"."rac_occupancy" (
    "run_id" UUID NOT NULL,
    "seat_id" INTEGER NOT NULL,
    "slot" SMALLINT NOT NULL,
    "segment" INTEGER NOT NULL,
    "passenger_id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,

    CONSTRAINT "rac_occupancy_pkey" PRIMARY KEY ("run_id","seat_id","slot","segment")
);

-- CreateIndex
CREATE INDEX "rac_slots_run_id_class_idx" ON "booking"."rac_slots"("run_id", "class");

-- CreateIndex
CREATE INDEX "rac_occupancy_passenger_id_idx" ON "booking"."rac_occupancy"("passenger_id");

-- AddForeignKey
ALTER TABLE "booking"."rac_occupancy" ADD CONSTRAINT "rac_occupancy_run_id_seat_id_slot_fkey" FOREIGN KEY ("run_id", "seat_id", "slot") REFERENCES "booking"."rac_slots"("run_id", "seat_id", "slot") ON DELETE CASCADE ON UPDATE CASCADE;
