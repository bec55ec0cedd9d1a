/**
 * What is wrong with a number typed into a control panel (the probe, the network simulation), or
 * null when it is within `[min, max]` (and whole, when it has to be). Nothing is sent or silently
 * changed while there is something: the panel shows the message.
 */
export function checkNumber(value: number, { min, max }: { min: number; max: number }, name: string, unit: string, integer = true): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${name} must be a number from ${min} to ${max} ${unit}`;
  if (value < min || value > max) return `${name} must be from ${min} to ${max} ${unit} (got ${value})`;
  if (integer && !Number.isInteger(value)) return `${name} must be a whole number of ${unit}`;
  return null;
}
