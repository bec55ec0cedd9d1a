import type { Socket } from 'node:net';

/** Something that owns a socket and remembers whether this turn has corked it. */
export interface Corkable {
  corked?: boolean;
}

/**
 * Holds sockets' writes until the current turn of the event loop is over, then sends each
 * socket's in one write: a group commit publishes a batch of events in one turn, and a replay a
 * page, so a reader gets them in one syscall instead of one each. Writes keep their order (the
 * socket's other writers queue behind ours in the same buffer), `writableLength` still counts
 * them against the send cap, and nothing waits past the turn (`process.nextTick`, after the
 * turn's promise callbacks). Past `maxBytes` corked, a socket is uncorked at once, so a long batch
 * or replay page is not mistaken for a slow reader.
 */
export class TurnCork<Owner extends Corkable> {
  private readonly held: { owner: Owner; socket: Socket }[] = [];
  private readonly release = (): void => {
    // Read by index: an uncork may write, and a write may cork another socket onto the list.
    for (let i = 0; i < this.held.length; i++) {
      const { owner, socket } = this.held[i]!;
      owner.corked = false;
      socket.uncork();
      this.uncorked(owner);
    }
    this.held.length = 0;
  };

  constructor(
    private readonly maxBytes: number,
    /** Told right after an owner's socket is uncorked (its meter counts what went out at once). */
    private readonly uncorked: (owner: Owner) => void,
  ) {}

  /** Before a write: corks the socket for the rest of the turn, unless this turn already has. */
  hold(owner: Owner, socket: Socket): void {
    if (owner.corked) return;
    owner.corked = true;
    socket.cork();
    this.held.push({ owner, socket });
    if (this.held.length === 1) process.nextTick(this.release);
  }

  /** After a write: lets the bytes go now if the socket holds more than `maxBytes`. */
  check(owner: Owner, socket: Socket): void {
    if (owner.corked && socket.writableLength >= this.maxBytes) {
      owner.corked = false;
      socket.uncork();
      this.uncorked(owner);
    }
  }
}
