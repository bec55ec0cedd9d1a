import { backoffDelay, CHAT_MAX_TEXT_CHARS, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS, type PostMessageData } from '@rt/protocol';
import type { ChatError, ChatSocket } from './socket.svelte';
import type { RoomTimeline } from './timeline.svelte';

/** A message we sent whose `clientId` has not come back in a `message` frame yet. */
export interface PendingMessage {
  clientId: string;
  room: string;
  text: string;
  /** Local clock, epoch ms. */
  createdAt: number;
  /**
   * The server's `error` message if it refused this one for good (it can never be stored as it is,
   * or the server failed on it again and again). A failed message is not re-sent by itself and
   * holds nothing up; `retry` sends it again after the others.
   */
  failed: string | null;
  /** On its way on the current socket (sent and not answered yet, or stored and about to show). False: waiting its turn. */
  sending: boolean;
}

/** Why a room's outbox is waiting before it sends again. */
export type OutboxHoldReason =
  /** The server's rate limit: it said when to try again. */
  | 'rate_limited'
  /** The server could not store messages (database unreachable, or it failed): trying again with backoff. */
  | 'unavailable'
  /** The server refused a message as out of order: sending again from the oldest unstored one. */
  | 'out_of_order';

/** Where a room's outbox stands: what the composer tells the user. */
export interface OutboxState {
  /** On their way now. */
  sending: number;
  /** Not sent yet, or to be sent again: they go out in the order they were written. */
  waiting: number;
  /** Refused for good; shown with Retry and Discard. */
  failed: number;
  /**
   * Set from a refusal until the outbox has caught up: why, and until when (local epoch ms) it
   * waits before sending again; after that it sends again, one at a time at first.
   */
  hold: { reason: OutboxHoldReason; until: number } | null;
}

/** A message the server fails on (`internal`) this many times in a row is shown as failed. */
const MAX_SERVER_FAILURES = 5;
/** After a refusal the outbox sends one message, then doubles what it pipelines with each ack, up to this. */
const MAX_SEND_WINDOW = 1024;

const EMPTY_PENDING: readonly PendingMessage[] = [];
const EMPTY_OUTBOX: OutboxState = { sending: 0, waiting: 0, failed: 0, hold: null };

/**
 * The messages the user wrote that the server has not shown back yet, sent in the order they were
 * written (docs/protocol.md, `message` and `out_of_order`).
 *
 * Each is sent once its room is ready on the current socket and re-sent with the same `clientId`
 * after a reconnect, once the room's history is in (so a message that was stored just before the
 * drop is recognised in the history instead of being sent twice). A refusal the server will take
 * later (`rate_limited`, `unavailable`, `internal`, `out_of_order`) holds the room back and starts
 * again from the refused message, one at a time at first and doubling with each ack.
 */
export class Outbox {
  /** The outbox, in the order the messages were written (per room, the order they are sent and stored). */
  #pending = $state.raw<readonly PendingMessage[]>([]);
  /** Rooms whose outbox waits before sending again. */
  #holds = $state.raw<Record<string, OutboxState['hold']>>({});

  readonly #socket: ChatSocket;
  readonly #timeline: RoomTimeline;
  readonly #random: () => number;
  /**
   * Pending messages transmitted on the current socket and not answered yet, each with the `ref`
   * of its latest transmission: an answer to an earlier one (refused as out of order before we
   * sent it again) is stale and ignored.
   */
  readonly #inFlight = new Map<string, string>();
  #transmissions = 0;
  /** Pending messages the server has acked (stored) whose `message` frame has not been shown yet. */
  readonly #acked = new Set<string>();
  /** Per room: how many messages may be on their way at once (unlimited until a refusal). */
  readonly #window = new Map<string, number>();
  /** Per room: refusals in a row that back off (`unavailable`, `internal`, `out_of_order`). */
  readonly #refusals = new Map<string, number>();
  /** Per message: `internal` failures in a row. */
  readonly #serverFailures = new Map<string, number>();
  /** Per room: the automatic re-send once a hold is over. */
  readonly #resendTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(socket: ChatSocket, timeline: RoomTimeline, random: () => number = Math.random) {
    this.#socket = socket;
    this.#timeline = timeline;
    this.#random = random;
    socket.on('message', (data) => {
      const { clientId } = data;
      if (typeof clientId === 'string' && this.#pending.some((p) => p.clientId === clientId)) this.#forget(clientId);
    });
    socket.on('ack', this.#onAck);
    // The history is in, so any pending message that had been stored already was matched by its
    // clientId; what is left was never stored. Send it (again) with the same clientId.
    socket.on('joined', (data) => {
      if (typeof data.room === 'string') this.#flush(data.room);
    });
    socket.lifecycle({
      down: () => this.#landed(),
      closed: () => {
        for (const timer of this.#resendTimers.values()) clearTimeout(timer);
        this.#resendTimers.clear();
        this.#landed();
      },
    });
    socket.claimErrors(this.#onError);
  }

  pending(room: string): readonly PendingMessage[] {
    const list = this.#pending.filter((p) => p.room === room);
    return list.length ? list : EMPTY_PENDING;
  }

  /** How many of a room's messages are on their way, waiting or failed, and why it waits. */
  state(room: string): OutboxState {
    const hold = this.#holds[room] ?? null;
    let sending = 0;
    let waiting = 0;
    let failed = 0;
    for (const p of this.#pending) {
      if (p.room !== room) continue;
      if (p.failed !== null) failed += 1;
      else if (p.sending) sending += 1;
      else waiting += 1;
    }
    return sending + waiting + failed === 0 && hold === null ? EMPTY_OUTBOX : { sending, waiting, failed, hold };
  }

  /**
   * Queue a message and send it as soon as the room is joined on an open socket.
   * Returns false (and sends nothing) for empty or too long text.
   */
  send(room: string, text: string): boolean {
    const trimmed = text.trim();
    if (!trimmed || trimmed.length > CHAT_MAX_TEXT_CHARS) return false;
    const message: PendingMessage = {
      clientId: crypto.randomUUID(),
      room,
      text: trimmed,
      createdAt: Date.now(),
      failed: null,
      sending: false,
    };
    this.#pending = [...this.#pending, message];
    this.#timeline.join(room);
    this.#flush(room);
    return true;
  }

  /**
   * Try a failed message again, with its original `clientId`. It joins the end of the outbox: the
   * messages written after it went on without it, so it is sent (and stored) after them. Sending it
   * ahead of messages already on their way could let a later one overtake an earlier one.
   */
  retry(clientId: string): void {
    const message = this.#pending.find((p) => p.clientId === clientId);
    if (!message || message.failed === null) return;
    this.#serverFailures.delete(clientId);
    this.#pending = [...this.#pending.filter((p) => p !== message), { ...message, failed: null, sending: false }];
    this.#flush(message.room);
  }

  /** Drop a failed message from the outbox. */
  discard(clientId: string): void {
    const message = this.#pending.find((p) => p.clientId === clientId);
    if (!message || message.failed === null) return;
    this.#forget(clientId);
  }

  #onAck = (data: Record<string, unknown>): void => {
    const { clientId, seq, room } = data;
    if (typeof clientId !== 'string' || typeof seq !== 'number' || typeof room !== 'string') return;
    // Stored (by whichever transmission): the server takes more again, so pipeline more.
    this.#refusals.delete(room);
    const window = this.#window.get(room);
    if (window !== undefined) {
      if (window * 2 >= MAX_SEND_WINDOW) this.#window.delete(room);
      else this.#window.set(room, window * 2);
    }
    if (!this.#window.has(room)) this.#setHold(room, null);
    if (this.#pending.some((p) => p.clientId === clientId)) {
      // A resend of a message stored before a drop is acked without a broadcast. If we hold the
      // room up to its seq the message is already shown (from the re-join's history): drop the copy.
      if (seq <= (this.#timeline.lastSeq(room) ?? 0)) {
        this.#forget(clientId);
      } else {
        this.#inFlight.delete(clientId);
        this.#serverFailures.delete(clientId);
        this.#acked.add(clientId);
      }
    }
    if (window !== undefined) this.#flush(room);
  };

  /** A `message` frame goes out with the ref `clientId~transmission`, which the server echoes. */
  #onError = (error: ChatError, data: Record<string, unknown>): boolean => {
    const cut = error.ref?.lastIndexOf('~') ?? -1;
    if (error.ref === null || cut <= 0) return false;
    const message = this.#pending.find((p) => p.clientId === error.ref!.slice(0, cut));
    // Already shown, discarded, or an answer to a transmission we have sent again since.
    if (message && this.#inFlight.get(message.clientId) === error.ref) this.#onRefused(message, error, data);
    return true;
  };

  /** The server refused the latest transmission of `message`. */
  #onRefused(message: PendingMessage, error: ChatError, data: Record<string, unknown>): void {
    this.#inFlight.delete(message.clientId);
    switch (error.code) {
      case 'rate_limited': {
        // Not stored: send it again (same clientId) when the server allows, and the rest after it.
        const wait = typeof data.retryAfterMs === 'number' && data.retryAfterMs >= 0 ? Math.min(data.retryAfterMs, 60_000) : 1000;
        this.#holdFrom(message, 'rate_limited', wait);
        return;
      }
      case 'unavailable':
        this.#holdFrom(message, 'unavailable', this.#backoffMs(message.room));
        return;
      case 'out_of_order':
        // Normally we stopped pipelining when the earlier refusal came back, and this answer is
        // to a transmission superseded since. If not, start again from the oldest unstored one.
        this.#holdFrom(message, 'out_of_order', this.#backoffMs(message.room));
        return;
      case 'internal': {
        // The server failed on it; it may work next time. Not forever: then it is shown as failed.
        const failures = (this.#serverFailures.get(message.clientId) ?? 0) + 1;
        this.#serverFailures.set(message.clientId, failures);
        if (failures < MAX_SERVER_FAILURES) {
          this.#holdFrom(message, 'unavailable', this.#backoffMs(message.room));
          return;
        }
        this.#fail(message, error);
        // The server holds back what we pipelined behind it; send those again, from the new head.
        this.#holdFrom(message, 'out_of_order', 0);
        return;
      }
      default:
        // A verdict on the message itself (invalid, room_not_found...): it will never be stored
        // as it is, so it holds nothing up. The user sees it, with Retry and Discard.
        this.#fail(message, error);
    }
  }

  #fail(message: PendingMessage, error: ChatError): void {
    this.#pending = this.#pending.map((p) => (p.clientId === message.clientId ? { ...p, failed: error.message, sending: false } : p));
    this.#socket.reportError(error);
  }

  /**
   * Send the room's outbox, strictly in the order it was written: every message not on its way
   * already, up to the send window. Nothing is ever sent ahead of an earlier message that is not
   * acked or on its way on this socket, so the server's gate (docs/protocol.md, `out_of_order`)
   * can hold back everything behind a refused one. The first message sent with nothing earlier
   * unacked carries `first: true`: it cannot overtake anything, so it may pass that gate.
   */
  #flush(room: string): void {
    if (!this.#timeline.isReady(room)) return;
    // A hold stays (for the composer to say why things go slowly) until the outbox has caught up.
    const hold = this.#holds[room];
    if (hold && hold.until > Date.now()) {
      this.#armResend(room, hold.until);
      return;
    }
    const window = this.#window.get(room) ?? Infinity;
    let onTheirWay = 0;
    let head = true;
    const sent = new Set<string>();
    for (const message of this.#pending) {
      if (message.room !== room || message.failed !== null || this.#acked.has(message.clientId)) continue;
      if (this.#inFlight.has(message.clientId)) {
        onTheirWay += 1;
        head = false;
        continue;
      }
      if (onTheirWay >= window) break;
      const ref = `${message.clientId}~${++this.#transmissions}`;
      const data: PostMessageData = { room, text: message.text, clientId: message.clientId };
      if (head) data.first = true;
      if (!this.#socket.send('message', data, ref)) break;
      this.#inFlight.set(message.clientId, ref);
      onTheirWay += 1;
      head = false;
      sent.add(message.clientId);
    }
    if (sent.size) this.#pending = this.#pending.map((p) => (sent.has(p.clientId) && !p.sending ? { ...p, sending: true } : p));
  }

  /**
   * The server refused `message` in a way it will take again later: it and everything after it in
   * the room go back to waiting (the server refuses what we pipelined behind it as out of order),
   * and after `waitMs` the outbox starts again from it, one message at a time at first.
   */
  #holdFrom(message: PendingMessage, reason: OutboxHoldReason, waitMs: number): void {
    const { room } = message;
    let from = false;
    const back = new Set<string>();
    for (const p of this.#pending) {
      if (p.room !== room) continue;
      if (p.clientId === message.clientId) from = true;
      if (!from || this.#acked.has(p.clientId)) continue;
      this.#inFlight.delete(p.clientId);
      back.add(p.clientId);
    }
    this.#pending = this.#pending.map((p) => (back.has(p.clientId) && p.sending ? { ...p, sending: false } : p));
    this.#window.set(room, 1);
    if (waitMs > 0) {
      this.#setHold(room, { reason, until: Date.now() + waitMs });
      this.#armResend(room, Date.now() + waitMs);
    } else {
      this.#flush(room);
    }
  }

  /** The reconnect backoff (@rt/protocol, reconnect.ts) for refusals that do not say when to come back. */
  #backoffMs(room: string): number {
    const refusals = (this.#refusals.get(room) ?? 0) + 1;
    this.#refusals.set(room, refusals);
    return backoffDelay(refusals - 1, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS, this.#random);
  }

  #setHold(room: string, hold: OutboxState['hold']): void {
    if (hold) {
      this.#holds = { ...this.#holds, [room]: hold };
    } else if (room in this.#holds) {
      const { [room]: _over, ...rest } = this.#holds;
      this.#holds = rest;
    }
  }

  /** The socket is gone (or replaced): nothing is on its way any more. What was acked stays acked. */
  #landed(): void {
    this.#inFlight.clear();
    if (this.#pending.some((p) => p.sending && !this.#acked.has(p.clientId))) {
      this.#pending = this.#pending.map((p) => (p.sending && !this.#acked.has(p.clientId) ? { ...p, sending: false } : p));
    }
  }

  #forget(clientId: string): void {
    const room = this.#pending.find((p) => p.clientId === clientId)?.room;
    this.#pending = this.#pending.filter((p) => p.clientId !== clientId);
    this.#inFlight.delete(clientId);
    this.#acked.delete(clientId);
    this.#serverFailures.delete(clientId);
    // Caught up: the next message goes out at once and pipelined again.
    if (room !== undefined && !this.#pending.some((p) => p.room === room && p.failed === null)) {
      this.#window.delete(room);
      this.#setHold(room, null);
    }
  }

  #armResend(room: string, at: number): void {
    clearTimeout(this.#resendTimers.get(room));
    this.#resendTimers.set(
      room,
      setTimeout(() => {
        this.#resendTimers.delete(room);
        // Not joined right now: the next `joined` flushes instead.
        this.#flush(room);
      }, Math.max(0, at - Date.now())),
    );
  }
}
