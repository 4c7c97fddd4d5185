-- CreateTable
CREATE TABLE "booking"."limit_claims" (
    "user_id" UUID NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "quota" "booking"."Quota" NOT NULL,
    "run_id" UUID NOT NULL,
    "client_ip" TEXT,
    "claimed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "limit_claims_pkey" PRIMARY KEY ("user_id","idempotency_key")
);

-- CreateIndex
CREATE INDEX "limit_claims_client_ip_claimed_at_idx" ON "booking"."limit_claims"("client_ip", "claimed_at");

-- CreateIndex
CREATE UNIQUE INDEX "users_phone_key" ON "auth"."users"("phone");

