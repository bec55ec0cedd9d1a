import { PROBE_ROWS, type ProbeResult } from './probe.svelte';

/** The whole result: parameters, per-transport summary, the server's answer and every sample. */
export function probeToJson(result: ProbeResult): string {
  return JSON.stringify(result, null, 2);
}

/** A CSV field, quoted when it holds a comma, a quote or a line break. */
function field(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Two tables in one file, separated by a blank line: the results table as the overlay shows it
 * (`metric,sse,ws`, with the run's parameters first), then one row per received probe message.
 */
export function probeToCsv(result: ProbeResult): string {
  const { sizeBytes, ratePerSecond, durationMs } = result.params;
  const summary = [
    'metric,sse,ws',
    `run,${field(result.run)},${field(result.run)}`,
    `startedAt,${result.startedAt},${result.startedAt}`,
    `sizeBytes,${sizeBytes},${sizeBytes}`,
    `ratePerSecond,${ratePerSecond},${ratePerSecond}`,
    `durationMs,${durationMs},${durationMs}`,
    ...PROBE_ROWS.map((row) => [row.label, row.value(result.sse), row.value(result.ws)].map(field).join(',')),
  ];
  const rows = ['run,transport,n,sentAt,receivedAt,latencyMs'];
  for (const s of result.samples) {
    rows.push([field(result.run), s.transport, s.n, s.sentAt.toFixed(3), s.receivedAt.toFixed(3), s.latencyMs === null ? '' : s.latencyMs.toFixed(3)].join(','));
  }
  return `${summary.join('\n')}\n\n${rows.join('\n')}\n`;
}

/** Save text as a file through a Blob and an object URL. */
export function download(filename: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked on the next turn: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
