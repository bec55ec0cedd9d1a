import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { TelemetryRepository } from '../repositories/telemetry.repository.js';

/** The transports' and the process's measurements (see README, "Metrics"). */
@ApiTags('metrics')
@Controller()
export class MetricsController {
  constructor(private readonly telemetry: TelemetryRepository) {}

  /** Prometheus text format, with Node's default metrics. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format' })
  prometheus(): Promise<string> {
    return this.telemetry.prometheus();
  }

  /** The same measurements as JSON: `{ws, sse, process}`. */
  @Get('api/metrics')
  @ApiOkResponse({ description: '`{ws: {...}, sse: {...}, process: {...}}`' })
  snapshot() {
    return this.telemetry.snapshot();
  }
}
