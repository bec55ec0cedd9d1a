import type { ProbeResult } from './probe.svelte';

/** The whole result: parameters, per-transport summary, the server's answer and every sample. */
export function probeToJson(result: ProbeResult): string {
  return JSON.stringify(result, null, 2);
}

/** One row per received probe message; the per-transport summary is in the JSON export. */
export function probeToCsv(result: ProbeResult): string {
  const rows = ['run,transport,n,sentAt,receivedAt,latencyMs'];
  for (const s of result.samples) {
    rows.push([result.run, s.transport, s.n, s.sentAt.toFixed(3), s.receivedAt.toFixed(3), s.latencyMs === null ? '' : s.latencyMs.toFixed(3)].join(','));
  }
  return `${rows.join('\n')}\n`;
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
