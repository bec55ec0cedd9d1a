-- AlterTable
ALTER TABLE "Room" ADD COLUMN     "boardClearSeq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "boardPoints" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "boardSeq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "BoardEntry" (
    "roomId" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "authorId" INTEGER NOT NULL,
    "stroke" INTEGER NOT NULL,
    "part" INTEGER NOT NULL,
    "data" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BoardEntry_pkey" PRIMARY KEY ("roomId","seq")
);

-- CreateTable
CREATE TABLE "BoardSnapshot" (
    "roomId" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BoardSnapshot_pkey" PRIMARY KEY ("roomId")
);

-- CreateIndex
CREATE UNIQUE INDEX "BoardEntry_roomId_authorId_stroke_part_key" ON "BoardEntry"("roomId", "authorId", "stroke", "part");

-- AddForeignKey
ALTER TABLE "BoardEntry" ADD CONSTRAINT "BoardEntry_roomId_fkey" FOREIGN KEY ("roomId") REFERENCES "Room"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BoardSnapshot" ADD CONSTRAINT "BoardSnapshot_roomId_fkey" FOREIGN KEY ("roomId") REFERENCES "Room"("id") ON DELETE CASCADE ON UPDATE CASCADE;

