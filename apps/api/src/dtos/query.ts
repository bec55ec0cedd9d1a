import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** An optional integer query parameter in [min, max] (query values arrive as strings). */
export function OptionalIntQuery(min: number, max: number = Number.MAX_SAFE_INTEGER): PropertyDecorator {
  return applyDecorators(IsOptional(), Type(() => Number), IsInt(), Min(min), Max(max));
}
