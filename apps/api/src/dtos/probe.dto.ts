import { ApiProperty } from '@nestjs/swagger';
import { PROBE_LIMITS, type ClockPing, type ProbeRequest } from '@rt/protocol';
import { IsInt, IsNumber, IsString, Length, Max, Min } from 'class-validator';

const { sizeBytes, ratePerSecond, durationMs } = PROBE_LIMITS;

export class ProbeRequestDto implements ProbeRequest {
  @ApiProperty({ minimum: sizeBytes.min, maximum: sizeBytes.max, default: sizeBytes.default, description: 'Size of the data JSON of each probe message' })
  @IsInt()
  @Min(sizeBytes.min)
  @Max(sizeBytes.max)
  sizeBytes!: number;

  @ApiProperty({ minimum: ratePerSecond.min, maximum: ratePerSecond.max, default: ratePerSecond.default })
  @IsInt()
  @Min(ratePerSecond.min)
  @Max(ratePerSecond.max)
  ratePerSecond!: number;

  @ApiProperty({ minimum: durationMs.min, maximum: durationMs.max, default: durationMs.default })
  @IsInt()
  @Min(durationMs.min)
  @Max(durationMs.max)
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

export class ClockPingDto implements ClockPing {
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
