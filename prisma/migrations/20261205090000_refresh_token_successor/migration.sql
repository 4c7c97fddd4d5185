-- AlterTable
ALTER TABLE "auth"."refresh_tokens" ADD COLUMN     "successor_id" UUID,
ADD COLUMN     "successor_sealed" TEXT;
