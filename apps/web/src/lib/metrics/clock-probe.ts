/** Pings right after a connection opens, to get a good clock estimate quickly. */
const BURST = 8;
const BURST_SPACING_MS = 250;
/** Then one every so often, so the last 8 samples stay fresh. */
const STEADY_MS = 5_000;

/**
 * Paces clock pings on one connection: a burst of 8 (250 ms apart) when it opens, then one every
 * 5 s until it closes. `send` does the actual ping.
 */
export class ClockProbeSchedule {
  readonly #send: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #left = 0;

  constructor(send: () => void) {
    this.#send = send;
  }

  start(): void {
    this.stop();
    this.#left = BURST;
    this.#tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick = (): void => {
    this.#send();
    const wait = this.#left > 1 ? BURST_SPACING_MS : STEADY_MS;
    if (this.#left > 0) this.#left -= 1;
    this.#timer = setTimeout(this.#tick, wait);
  };
}
