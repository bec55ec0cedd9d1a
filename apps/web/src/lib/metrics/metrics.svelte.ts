import { api } from '../api';
import type { ChatConnection } from '../chat.svelte';
import { preciseNow } from '../clock';
import type { EventHub } from '../events/hub.svelte';
import type { StreamStatus } from '../events/types';
import { TransportMeter, type MeterSnapshot, type Transport } from './meter.svelte';
import { NetSim } from './netsim.svelte';
import { ProbeRunner, type ProbeParams, type ProbeProgress } from './probe.svelte';
import { SseMeterBinding } from './sse-meter.svelte';
import { WsMeterBinding } from './ws-meter.svelte';

/** What the SSE column says in a tab that does not hold the browser's stream. */
export const SSE_SHARED_NOTE = 'n/a (another tab holds the stream)';
/** `GET /api/metrics/connections/:id` while the overlay is open. */
const BYTES_POLL_MS = 2_000;

export interface MetricsSnapshot {
  /** Local clock of the snapshot. */
  at: number;
  ws: MeterSnapshot;
  sse: MeterSnapshot;
  /** The SSE stream is held by another tab: its figures are not measured here. */
  sseShared: boolean;
  probe: ProbeProgress;
}

const SHARED_STATE: Record<StreamStatus, string> = {
  connecting: 'connecting (another tab)',
  live: 'open (another tab)',
  degraded: 'polling (another tab)',
  offline: 'closed (another tab)',
};

/**
 * SSE against WebSocket on the user's own traffic: one `TransportMeter` per transport, fed from
 * the moment the user signs in whether or not the overlay is shown, plus the head-to-head probe
 * and the network simulation.
 *
 * The SSE side is measured only in the tab that holds the browser's stream (the hub's leader):
 * the others get its events relayed over a BroadcastChannel, which would measure the relay, and
 * cannot address the stream for the clock probe. There the SSE column says so and the probe is
 * disabled.
 */
export class TransportMetrics {
  readonly ws = new TransportMeter('ws');
  readonly sse = new TransportMeter('sse');
  readonly probe = new ProbeRunner();
  readonly netsim = new NetSim();

  readonly #chat: ChatConnection;
  readonly #hub: EventHub;
  readonly #wsBinding: WsMeterBinding;
  readonly #sseBinding: SseMeterBinding;

  constructor(chat: ChatConnection, hub: EventHub) {
    this.#chat = chat;
    this.#hub = hub;
    this.#wsBinding = new WsMeterBinding(chat, this.ws, this.probe.sink('ws'));
    this.#sseBinding = new SseMeterBinding(hub, this.sse, this.probe.sink('sse'));
  }

  /** Whether this tab holds the browser's event stream (reactive). */
  get holdsStream(): boolean {
    return this.#hub.isLeader;
  }

  /** Both meters as they stand now, as plain data. */
  snapshot(): MetricsSnapshot {
    const at = preciseNow();
    const ws = this.ws.snapshot(at);
    let sse = this.sse.snapshot(at);
    const sseShared = !this.#hub.isLeader;
    if (sseShared) sse = { ...sse, state: SHARED_STATE[this.#hub.status], offsetNote: SSE_SHARED_NOTE };
    return { at, ws, sse, sseShared, probe: this.probe.progress() };
  }

  /** Poll each connection's byte counters every 2 s (while the overlay is open). Returns the stop function. */
  pollBytes(): () => void {
    let stopped = false;
    const poll = (): void => {
      for (const meter of [this.ws, this.sse]) {
        const id = meter.transport === 'ws' ? this.#chat.socket.connectionId : this.#hub.connectionId;
        if (!id) continue;
        api.connectionMetrics(id).then(
          (metrics) => {
            // A late answer about a connection since replaced is still right about that one; skip it.
            if (!stopped && id === (meter.transport === 'ws' ? this.#chat.socket.connectionId : this.#hub.connectionId)) {
              meter.setBytes(metrics);
            }
          },
          () => {
            // 404 for a connection that just went away: the next poll asks about the new one.
          },
        );
      }
    };
    poll();
    const timer = setInterval(poll, BYTES_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  /** Why a probe cannot start now, or null if it can. */
  probeBlocker(): string | null {
    if (!this.#hub.isLeader) return 'The probe needs the event stream, which another tab of this browser holds: run it from that tab.';
    if (!this.#chat.socket.connectionId) return 'Waiting for the WebSocket to open…';
    if (!this.#hub.connectionId) return 'Waiting for the event stream to open…';
    return null;
  }

  async runProbe(params: ProbeParams): Promise<void> {
    const ws = this.#chat.socket.connectionId;
    const sse = this.#hub.connectionId;
    if (!ws || !sse || !this.#hub.isLeader) return;
    const { delayMs, jitterMs } = this.netsim.impairment;
    await this.probe.run(params, { ws, sse }, delayMs + jitterMs);
  }

  /** Counters now, for the drop's baseline. */
  async drop(): Promise<void> {
    const { ws, sse } = this.snapshot();
    await this.netsim.drop({ ws, sse } satisfies Record<Transport, MeterSnapshot>);
  }

  close(): void {
    this.#wsBinding.close();
    this.#sseBinding.close();
  }
}

const OPEN_KEY = 'rt-metrics-overlay';
const PINNED_KEY = 'rt-metrics-overlay-pinned';

function read(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null; // storage disabled
  }
}

function write(storage: () => Storage, key: string, value: string): void {
  try {
    storage().setItem(key, value);
  } catch {
    // storage disabled: remembered for this page only
  }
}

/**
 * Whether the metrics overlay is shown. Shown or not is this tab's own (sessionStorage: it
 * survives a reload, not a new tab); a new tab opens it only when the user pinned it
 * (localStorage, shared by the browser's tabs).
 */
export class OverlayToggle {
  #pinned = $state(read(() => localStorage, PINNED_KEY) === 'true');
  #open = $state(read(() => sessionStorage, OPEN_KEY) === null ? read(() => localStorage, PINNED_KEY) === 'true' : read(() => sessionStorage, OPEN_KEY) === 'open');

  get open(): boolean {
    return this.#open;
  }

  set open(value: boolean) {
    this.#open = value;
    write(() => sessionStorage, OPEN_KEY, value ? 'open' : 'closed');
  }

  get pinned(): boolean {
    return this.#pinned;
  }

  set pinned(value: boolean) {
    this.#pinned = value;
    write(() => localStorage, PINNED_KEY, String(value));
  }

  toggle(): void {
    this.open = !this.#open;
  }
}
