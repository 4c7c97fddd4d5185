-- At most one live (PENDING or SUCCEEDED) payment per reservation, said by the database: createPayment
-- inserts with ON CONFLICT DO NOTHING in one statement instead of a transaction around an advisory
-- lock. A partial index, which the Prisma schema cannot state: schema.prisma points here.
CREATE UNIQUE INDEX "payments_one_live_per_reservation" ON "payment"."payments" ("reservation_id")
  WHERE "status" IN ('PENDING', 'SUCCEEDED');
