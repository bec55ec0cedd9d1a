-- AlterTable
ALTER TABLE "Notification" ADD COLUMN "room" TEXT;
ALTER TABLE "Notification" ADD COLUMN "roomSeq" INTEGER;
