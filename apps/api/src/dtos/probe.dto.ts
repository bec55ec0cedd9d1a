import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsNumber, IsString, Length, Max, Min } from 'class-validator';

export class ProbeRequestDto {
  @ApiProperty({ minimum: 64, maximum: 65_536, default: 100, description: 'Size of the data JSON of each probe message' })
  @IsInt()
  @Min(64)
  @Max(65_536)
  sizeBytes!: number;

  @ApiProperty({ minimum: 1, maximum: 1000, default: 50 })
  @IsInt()
  @Min(1)
  @Max(1000)
  ratePerSecond!: number;

  @ApiProperty({ minimum: 500, maximum: 30_000, default: 3000 })
  @IsInt()
  @Min(500)
  @Max(30_000)
  durationMs!: number;

  @ApiProperty({ description: 'From the WebSocket hello' })
  @IsString()
  @Length(1, 64)
  wsConnectionId!: string;

  @ApiProperty({ description: 'From the event stream hello' })
  @IsString()
  @Length(1, 64)
  sseConnectionId!: string;
}

export class ClockPingDto {
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  id!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  t!: number;
}

export class ImpairDto {
  @IsInt()
  @Min(0)
  @Max(5000)
  delayMs!: number;

  @IsInt()
  @Min(0)
  @Max(5000)
  jitterMs!: number;
}

export class PauseDto {
  @IsInt()
  @Min(1)
  @Max(30)
  seconds!: number;
}
