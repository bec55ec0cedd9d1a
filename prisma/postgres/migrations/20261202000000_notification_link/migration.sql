-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "room" TEXT,
ADD COLUMN     "roomSeq" INTEGER;
