import { DomainError } from './errors.js';

/**
 * Keeps one connection's messages to a room in the order the client sent them, through refusals.
 *
 * The client pipelines its outbox: it sends message k+1 before k is answered, and the server
 * pipelines too: k+1 joins the group commit's queue before k has committed, often the same
 * transaction. If k is refused in a way that the client will answer by sending k again (rate
 * limited, database unavailable, a server failure), k+1 must not be stored before it, or the
 * room's log holds them the wrong way round for good. So after such a refusal every later message
 * of that room on this connection is refused with `out_of_order`, naming k, without being stored
 * or counted against the rate, until either k comes again or a message flagged `first` (the head
 * of the client's outbox: nothing earlier is unacked, so it cannot overtake anything) arrives.
 * See docs/protocol.md, `out_of_order`.
 *
 * The gate is asked and told in the order the messages are stored, not the order their answers
 * reach the client: {@link SendTicket.take} runs inside the message's unit of the group commit,
 * and {@link SendTicket.refused} runs synchronously when a unit is refused or fails, before any
 * later unit runs. So k+1 in the same transaction as k, or in the next one, already sees k's fate.
 *
 * One gate per connection (keyed weakly by its socket), so a closed connection's state goes with it.
 */
export class SendOrderGate<Connection extends object> {
  /** Per connection, per room: the clientId refused first, which must come again first. */
  private readonly owed = new WeakMap<Connection, Map<string, string>>();

  /** The gate's view of one message; ask and tell it in store order. */
  ticket(connection: Connection, room: string, clientId: string, first: boolean): SendTicket {
    return {
      take: () => {
        const rooms = this.owed.get(connection);
        const owed = rooms?.get(room);
        if (owed === undefined) return undefined;
        if (owed !== clientId && !first) return owed;
        rooms!.delete(room);
        return undefined;
      },
      refused: (err: unknown) => {
        if (!willBeResent(err)) return;
        let rooms = this.owed.get(connection);
        if (!rooms) this.owed.set(connection, (rooms = new Map<string, string>()));
        // The first refused stays owed: those after it in the same transaction failed with it.
        if (!rooms.has(room)) rooms.set(room, clientId);
      },
    };
  }
}

/** One message's place in its connection's send order. */
export interface SendTicket {
  /**
   * Whether it may be stored, asked once it is known to be new: undefined if so, otherwise the
   * clientId of the earlier refused message that must come first.
   */
  take(): string | undefined;
  /** It was refused, or its unit failed (told at once, in store order). */
  refused(err: unknown): void;
}

export function outOfOrder(expected: string): DomainError {
  return new DomainError('out_of_order', `an earlier message (${expected}) was refused: send it again first; this one was not stored`, { expected });
}

/**
 * A refusal the client answers by sending the same message again: the rate limit, or anything that
 * is not a verdict on the message itself (the database unreachable, a server failure). Verdicts such
 * as `invalid` or `room_not_found` mean the message will never be stored, so it holds nothing up.
 */
export function willBeResent(err: unknown): boolean {
  return !(err instanceof DomainError) || err.code === 'rate_limited';
}
