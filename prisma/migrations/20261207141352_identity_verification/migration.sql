-- AlterEnum
ALTER TYPE "auth"."Role" ADD VALUE 'AGENT';

-- AlterTable
ALTER TABLE "auth"."users" ADD COLUMN     "identity_verified_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "auth"."identity_codes" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "phone" TEXT NOT NULL,
    "code_hash" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "consumed_at" TIMESTAMPTZ(3),

    CONSTRAINT "identity_codes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "identity_codes_user_id_key" ON "auth"."identity_codes"("user_id");

-- AddForeignKey
ALTER TABLE "auth"."identity_codes" ADD CONSTRAINT "identity_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

