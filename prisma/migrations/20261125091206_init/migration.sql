-- Extensions Prisma cannot declare without a preview feature: trigram search and accent folding.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "auth";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "booking";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "payment";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "search";

-- CreateEnum
CREATE TYPE "auth"."Role" AS ENUM ('CUSTOMER', 'ADMIN');

-- CreateEnum
CREATE TYPE "booking"."TravelClass" AS ENUM ('FIRST_AC', 'SECOND_AC', 'THIRD_AC', 'SLEEPER', 'CHAIR_CAR', 'EXEC_CHAIR', 'SECOND_SEATING');

-- CreateEnum
CREATE TYPE "booking"."BerthType" AS ENUM ('LB', 'MB', 'UB', 'SL', 'SU', 'WS', 'MS', 'AS');

-- CreateEnum
CREATE TYPE "booking"."ReservationStatus" AS ENUM ('HELD', 'CONFIRMED', 'WAITLISTED', 'CANCELLED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "booking"."PassengerStatus" AS ENUM ('HELD', 'CONFIRMED', 'WAITLISTED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "booking"."Gender" AS ENUM ('MALE', 'FEMALE', 'OTHER');

-- CreateEnum
CREATE TYPE "payment"."PaymentStatus" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED');

-- CreateEnum
CREATE TYPE "payment"."RefundStatus" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED');

-- CreateTable
CREATE TABLE "auth"."users" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "phone" TEXT,
    "password_hash" TEXT NOT NULL,
    "role" "auth"."Role" NOT NULL DEFAULT 'CUSTOMER',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."refresh_tokens" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "family_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "rotated_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."idempotency_keys" (
    "user_id" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "locked_until" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id","operation","key")
);

-- CreateTable
CREATE TABLE "booking"."stations" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "city" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "zone" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "aliases" TEXT[] DEFAULT ARRAY[]::TEXT[],

    CONSTRAINT "stations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."trains" (
    "id" SERIAL NOT NULL,
    "number" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "runs_on" INTEGER[],

    CONSTRAINT "trains_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."train_stops" (
    "id" SERIAL NOT NULL,
    "train_id" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "station_id" INTEGER NOT NULL,
    "arrival_min" INTEGER,
    "departure_min" INTEGER,
    "distance_km" INTEGER NOT NULL,

    CONSTRAINT "train_stops_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."coaches" (
    "id" SERIAL NOT NULL,
    "train_id" INTEGER NOT NULL,
    "code" TEXT NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "coaches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."seats" (
    "id" SERIAL NOT NULL,
    "coach_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "berth_type" "booking"."BerthType" NOT NULL,

    CONSTRAINT "seats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."train_runs" (
    "id" UUID NOT NULL,
    "train_id" INTEGER NOT NULL,
    "date" DATE NOT NULL,
    "cancelled" BOOLEAN NOT NULL DEFAULT false,
    "inventory_ready" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "train_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."run_seats" (
    "run_id" UUID NOT NULL,
    "seat_id" INTEGER NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "occupied_mask" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "run_seats_pkey" PRIMARY KEY ("run_id","seat_id")
);

-- CreateTable
CREATE TABLE "booking"."seat_occupancy" (
    "run_id" UUID NOT NULL,
    "seat_id" INTEGER NOT NULL,
    "segment" INTEGER NOT NULL,
    "passenger_id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,

    CONSTRAINT "seat_occupancy_pkey" PRIMARY KEY ("run_id","seat_id","segment")
);

-- CreateTable
CREATE TABLE "booking"."reservations" (
    "id" UUID NOT NULL,
    "pnr" CHAR(10) NOT NULL,
    "user_id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "from_seq" INTEGER NOT NULL,
    "to_seq" INTEGER NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "status" "booking"."ReservationStatus" NOT NULL,
    "fare_paise" INTEGER NOT NULL,
    "hold_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "confirmed_at" TIMESTAMPTZ(3),
    "cancelled_at" TIMESTAMPTZ(3),

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."passengers" (
    "id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "age" INTEGER NOT NULL,
    "gender" "booking"."Gender" NOT NULL,
    "berth_preference" "booking"."BerthType",
    "status" "booking"."PassengerStatus" NOT NULL,
    "seat_id" INTEGER,
    "coach_code" TEXT,
    "berth_number" INTEGER,
    "berth_type" "booking"."BerthType",
    "waitlist_number" INTEGER,
    "fare_paise" INTEGER NOT NULL,

    CONSTRAINT "passengers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."waitlist_counters" (
    "run_id" UUID NOT NULL,
    "class" "booking"."TravelClass" NOT NULL,
    "last" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "waitlist_counters_pkey" PRIMARY KEY ("run_id","class")
);

-- CreateTable
CREATE TABLE "booking"."idempotency_keys" (
    "user_id" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "locked_until" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id","operation","key")
);

-- CreateTable
CREATE TABLE "booking"."outbox" (
    "id" UUID NOT NULL,
    "exchange" TEXT NOT NULL,
    "routing_key" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."inbox" (
    "message_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_pkey" PRIMARY KEY ("message_id")
);

-- CreateTable
CREATE TABLE "payment"."payments" (
    "id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "amount_paise" INTEGER NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'INR',
    "status" "payment"."PaymentStatus" NOT NULL,
    "provider_ref" TEXT NOT NULL,
    "checkout_url" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."refunds" (
    "id" UUID NOT NULL,
    "payment_id" UUID NOT NULL,
    "amount_paise" INTEGER NOT NULL,
    "status" "payment"."RefundStatus" NOT NULL,
    "reason" TEXT NOT NULL,
    "provider_refund_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "refunds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."webhook_events" (
    "id" UUID NOT NULL,
    "provider_event_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."outbox" (
    "id" UUID NOT NULL,
    "exchange" TEXT NOT NULL,
    "routing_key" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."inbox" (
    "message_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_pkey" PRIMARY KEY ("message_id")
);

-- CreateTable
CREATE TABLE "payment"."idempotency_keys" (
    "user_id" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "locked_until" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id","operation","key")
);

-- CreateTable
CREATE TABLE "search"."station_docs" (
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "city" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "aliases" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "search_text" TEXT NOT NULL,

    CONSTRAINT "station_docs_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "search"."train_docs" (
    "number" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "search_text" TEXT NOT NULL,
    "station_codes" TEXT[],

    CONSTRAINT "train_docs_pkey" PRIMARY KEY ("number")
);

-- CreateTable
CREATE TABLE "search"."inbox" (
    "message_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_pkey" PRIMARY KEY ("message_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "auth"."users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "auth"."refresh_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_family_id_idx" ON "auth"."refresh_tokens"("family_id");

-- CreateIndex
CREATE INDEX "refresh_tokens_user_id_idx" ON "auth"."refresh_tokens"("user_id");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "auth"."idempotency_keys"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "stations_code_key" ON "booking"."stations"("code");

-- CreateIndex
CREATE UNIQUE INDEX "trains_number_key" ON "booking"."trains"("number");

-- CreateIndex
CREATE INDEX "train_stops_station_id_idx" ON "booking"."train_stops"("station_id");

-- CreateIndex
CREATE UNIQUE INDEX "train_stops_train_id_seq_key" ON "booking"."train_stops"("train_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "train_stops_train_id_station_id_key" ON "booking"."train_stops"("train_id", "station_id");

-- CreateIndex
CREATE INDEX "coaches_train_id_class_idx" ON "booking"."coaches"("train_id", "class");

-- CreateIndex
CREATE UNIQUE INDEX "coaches_train_id_code_key" ON "booking"."coaches"("train_id", "code");

-- CreateIndex
CREATE UNIQUE INDEX "seats_coach_id_number_key" ON "booking"."seats"("coach_id", "number");

-- CreateIndex
CREATE INDEX "train_runs_date_idx" ON "booking"."train_runs"("date");

-- CreateIndex
CREATE UNIQUE INDEX "train_runs_train_id_date_key" ON "booking"."train_runs"("train_id", "date");

-- CreateIndex
CREATE INDEX "run_seats_run_id_class_idx" ON "booking"."run_seats"("run_id", "class");

-- CreateIndex
CREATE INDEX "seat_occupancy_passenger_id_idx" ON "booking"."seat_occupancy"("passenger_id");

-- CreateIndex
CREATE UNIQUE INDEX "reservations_pnr_key" ON "booking"."reservations"("pnr");

-- CreateIndex
CREATE INDEX "reservations_user_id_created_at_idx" ON "booking"."reservations"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "reservations_status_hold_expires_at_idx" ON "booking"."reservations"("status", "hold_expires_at");

-- CreateIndex
CREATE INDEX "reservations_run_id_class_status_idx" ON "booking"."reservations"("run_id", "class", "status");

-- CreateIndex
CREATE UNIQUE INDEX "passengers_reservation_id_position_key" ON "booking"."passengers"("reservation_id", "position");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "booking"."idempotency_keys"("created_at");

-- CreateIndex
CREATE INDEX "outbox_published_at_created_at_idx" ON "booking"."outbox"("published_at", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "payments_provider_ref_key" ON "payment"."payments"("provider_ref");

-- CreateIndex
CREATE INDEX "payments_reservation_id_idx" ON "payment"."payments"("reservation_id");

-- CreateIndex
CREATE INDEX "payments_user_id_created_at_idx" ON "payment"."payments"("user_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "refunds_provider_refund_id_key" ON "payment"."refunds"("provider_refund_id");

-- CreateIndex
CREATE INDEX "refunds_payment_id_idx" ON "payment"."refunds"("payment_id");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_events_provider_event_id_key" ON "payment"."webhook_events"("provider_event_id");

-- CreateIndex
CREATE INDEX "outbox_published_at_created_at_idx" ON "payment"."outbox"("published_at", "created_at");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "payment"."idempotency_keys"("created_at");

-- CreateIndex
CREATE INDEX "station_docs_search_text_trgm" ON "search"."station_docs" USING GIN ("search_text" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "train_docs_search_text_trgm" ON "search"."train_docs" USING GIN ("search_text" gin_trgm_ops);

-- AddForeignKey
ALTER TABLE "auth"."refresh_tokens" ADD CONSTRAINT "refresh_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."train_stops" ADD CONSTRAINT "train_stops_train_id_fkey" FOREIGN KEY ("train_id") REFERENCES "booking"."trains"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."train_stops" ADD CONSTRAINT "train_stops_station_id_fkey" FOREIGN KEY ("station_id") REFERENCES "booking"."stations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."coaches" ADD CONSTRAINT "coaches_train_id_fkey" FOREIGN KEY ("train_id") REFERENCES "booking"."trains"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."seats" ADD CONSTRAINT "seats_coach_id_fkey" FOREIGN KEY ("coach_id") REFERENCES "booking"."coaches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."train_runs" ADD CONSTRAINT "train_runs_train_id_fkey" FOREIGN KEY ("train_id") REFERENCES "booking"."trains"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."reservations" ADD CONSTRAINT "reservations_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "booking"."train_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking"."passengers" ADD CONSTRAINT "passengers_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "booking"."reservations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payment"."refunds" ADD CONSTRAINT "refunds_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"."payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
