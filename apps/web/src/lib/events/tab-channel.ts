import type { ChannelMessage } from './types';

/** The part of `BroadcastChannel` the relay uses; specs hand in a fake. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/**
 * The tabs' relay (`BroadcastChannel('rt-events')`): what this tab posts reaches every other tab
 * of the browser, and what they post reaches `onMessage`, never this tab's own messages or
 * anything that is not a message of ours. Posting on a closed channel is a no-op.
 */
export class TabChannel {
  readonly tab: string;
  #channel: BroadcastChannelLike | null;

  constructor(channel: BroadcastChannelLike, tab: string, onMessage: (message: ChannelMessage) => void) {
    this.tab = tab;
    this.#channel = channel;
    channel.addEventListener('message', (event: MessageEvent) => {
      const message = event.data as ChannelMessage | null;
      if (!this.#channel || !message || typeof message !== 'object' || typeof message.type !== 'string' || message.tab === tab) return;
      onMessage(message);
    });
  }

  post(message: ChannelMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // Closed channel (the tab is going away): nothing to tell.
    }
  }

  close(): void {
    this.#channel?.close();
    this.#channel = null;
  }
}
