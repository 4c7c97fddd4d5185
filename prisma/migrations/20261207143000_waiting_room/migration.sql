-- AlterTable
ALTER TABLE "booking"."reservations" ADD COLUMN     "draw" DOUBLE PRECISION,
ADD COLUMN     "opens_at" TIMESTAMPTZ(3);

