-- CreateEnum
CREATE TYPE "booking"."Quota" AS ENUM ('GENERAL', 'TATKAL', 'PREMIUM_TATKAL', 'LADIES', 'LOWER_BERTH');

-- DropIndex
DROP INDEX "booking"."run_seats_run_id_class_idx";

-- AlterTable
ALTER TABLE "booking"."run_seats" ADD COLUMN     "quota" "booking"."Quota" NOT NULL DEFAULT 'GENERAL';

-- AlterTable
ALTER TABLE "booking"."reservations" ADD COLUMN     "quota" "booking"."Quota" NOT NULL DEFAULT 'GENERAL';

-- AlterTable
ALTER TABLE "booking"."waitlist_counters" DROP CONSTRAINT "waitlist_counters_pkey",
ADD COLUMN     "quota" "booking"."Quota" NOT NULL DEFAULT 'GENERAL',
ADD CONSTRAINT "waitlist_counters_pkey" PRIMARY KEY ("run_id", "class", "quota");

-- CreateTable
CREATE TABLE "booking"."quota_shares" (
    "train_id" INTEGER NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "quota" "booking"."Quota" NOT NULL,
    "berths" INTEGER NOT NULL,

    CONSTRAINT "quota_shares_pkey" PRIMARY KEY ("train_id","class","quota")
);

-- CreateIndex
CREATE INDEX "run_seats_run_id_class_quota_idx" ON "booking"."run_seats"("run_id", "class", "quota");

-- AddForeignKey
ALTER TABLE "booking"."quota_shares" ADD CONSTRAINT "quota_shares_train_id_fkey" FOREIGN KEY ("train_id") REFERENCES "booking"."trains"("id") ON DELETE CASCADE ON UPDATE CASCADE;

