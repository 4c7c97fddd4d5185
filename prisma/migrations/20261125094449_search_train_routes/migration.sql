-- AlterTable
ALTER TABLE "search"."train_docs" ADD COLUMN     "classes" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "runs_on" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
ADD COLUMN     "stops" JSONB NOT NULL DEFAULT '[]';
