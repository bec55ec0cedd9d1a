// Shapes shared by the stream, the hub and the tabs' channel (the wire's own are in @rt/protocol).

/**
 * Where the event stream of this browser stands:
 * - `connecting`: an EventSource is being opened (or reopened after a drop);
 * - `live`: the EventSource is open;
 * - `degraded`: the EventSource keeps failing, events come by polling `/api/events/poll`;
 * - `offline`: nothing comes in (no topic wanted, or polling fails too).
 */
export type StreamStatus = 'connecting' | 'live' | 'degraded' | 'offline';

/**
 * What the EventSource of the leader tab did, for observers such as the metrics overlay
 * (`EventHub.observe`). `at` is the page's clock (`preciseNow`) when it happened.
 */
export type StreamSignal =
  /** The EventSource opened (a first connect, a reconnect after a drop, or a reopen by hand). */
  | { type: 'open'; at: number }
  /** An open EventSource failed, or was ended by `auth-expired`; it is reconnecting. */
  | { type: 'drop'; at: number }
  | { type: 'status'; at: number; status: StreamStatus }
  /** The leader reopened the stream by hand (topics changed, or a rewind): each topic starts after `start`. */
  | { type: 'restart'; at: number; start: Record<string, number> }
  /**
   * One event as the EventSource delivered it (polled ones are left out). `id` is '' for the
   * connection events (`hello`, `pong`, `probe`), whose `lastEventId` would be a stale one.
   */
  | { type: 'event'; at: number; id: string; event: string; data: unknown };

/** One event as it came off the wire (EventSource or poll), data already parsed. */
export interface WireEvent {
  /** The composite id: `notifications=12,blog:3=40`. */
  id: string;
  event: string;
  data: unknown;
}

/** What a subscriber gets: one event of its topic, in order, once. */
export interface TopicEvent {
  topic: string;
  /** The event's position in its topic's log: 1, 2, 3, ... with no gaps. */
  seq: number;
  event: string;
  data: unknown;
}

/**
 * Messages between the tabs on `BroadcastChannel('rt-events')`. `tab` is the sender's id.
 *
 * Follower to leader: `want` (the topics this tab needs, with the position it holds in each,
 * used only when a topic is new to the stream), `rewind` (this tab missed events of a topic the
 * stream already carries: reopen it from `from`), `renewed` (this tab renewed the session after an
 * `auth-expired`), `bye` (tab closing).
 *
 * Leader to all: `leader` (a new leader: announce your topics again), `stream` (a new stream
 * generation starts, with the position of each topic it starts from), `event` (one event, as
 * received), `position` (where the stream stands now, in answer to a `want`: a tab that has just
 * subscribed learns whether its snapshot is behind), `status`, `auth-expired` (renew the session
 * if you can).
 */
export type ChannelMessage =
  | { type: 'want'; tab: string; topics: Record<string, number> }
  | { type: 'rewind'; tab: string; topic: string; from: number }
  | { type: 'renewed'; tab: string }
  | { type: 'bye'; tab: string }
  | { type: 'leader'; tab: string }
  | { type: 'stream'; tab: string; gen: number; start: Record<string, number> }
  | { type: 'event'; tab: string; gen: number; id: string; event: string; data: unknown }
  | { type: 'position'; tab: string; gen: number; position: Record<string, number> }
  | { type: 'status'; tab: string; status: StreamStatus }
  | { type: 'auth-expired'; tab: string };
