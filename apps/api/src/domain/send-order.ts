import { DomainError } from './errors.js';

/**
 * Keeps one connection's messages to a room in the order the client sent them, through refusals.
 *
 * The client pipelines its outbox: it sends message k+1 before k is answered. If k is refused in a
 * way that the client will answer by sending k again (rate limited, database unavailable, a server
 * failure), k+1 must not be stored before it, or the room's log holds them the wrong way round for
 * good. So after such a refusal every later message of that room on this connection is refused
 * with `out_of_order`, naming k, without being stored or counted against the rate, until either
 * k comes again or a message flagged `first` (the head of the client's outbox: nothing earlier is
 * unacked, so it cannot overtake anything) arrives. A WebSocket delivers frames in order and the
 * connection runs its writes one at a time, so everything the client pipelined before it learned
 * of the refusal is refused, and the client restarts from k. See docs/protocol.md, `out_of_order`.
 *
 * One gate per connection (keyed weakly by its socket), so a closed connection's state goes with it.
 */
export class SendOrderGate<Connection extends object> {
  /** Per connection, per room: the clientId refused last, which must come again first. */
  private readonly owed = new WeakMap<Connection, Map<string, string>>();

  /**
   * Runs `store` for the message unless an earlier refused one is owed; a refusal of this one that
   * the client will resend closes the room for the connection until it comes again.
   */
  async admit<T>(connection: Connection, room: string, clientId: string, first: boolean, store: () => Promise<T>): Promise<T> {
    const rooms = this.owed.get(connection);
    const owed = rooms?.get(room);
    if (owed !== undefined) {
      if (owed !== clientId && !first) {
        throw new DomainError('out_of_order', `an earlier message (${owed}) was refused: send it again first; this one was not stored`, { expected: owed });
      }
      rooms!.delete(room);
    }
    try {
      return await store();
    } catch (err) {
      if (willBeResent(err)) this.close(connection, room, clientId);
      throw err;
    }
  }

  private close(connection: Connection, room: string, clientId: string): void {
    let rooms = this.owed.get(connection);
    if (!rooms) this.owed.set(connection, (rooms = new Map()));
    rooms.set(room, clientId);
  }
}

/**
 * A refusal the client answers by sending the same message again: the rate limit, or anything that
 * is not a verdict on the message itself (the database unreachable, a server failure). Verdicts such
 * as `invalid` or `room_not_found` mean the message will never be stored, so it holds nothing up.
 */
export function willBeResent(err: unknown): boolean {
  return !(err instanceof DomainError) || err.code === 'rate_limited';
}
