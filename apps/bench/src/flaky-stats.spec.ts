import { describe, expect, test } from 'vitest';
import { Arrivals, countDeliveries, flakyPayload, readStamp, recoveryTimes, ReplayDelays, timeToFraction, type Published } from './flaky-stats.js';

const published = (count: number, refused: number[] = []): Published[] =>
  Array.from({ length: count }, (_, i) => ({ n: i + 1, createdMicros: (i + 1) * 1000, accepted: !refused.includes(i + 1) }));

describe('countDeliveries', () => {
  test('a client that got every accepted message once, in order, is complete', () => {
    const c = new Arrivals();
    c.connected(0);
    for (let n = 1; n <= 5; n++) c.arrived(n, n * 1000, n * 1000 + 10);
    expect(countDeliveries([c], published(5))).toEqual({ clients: 1, accepted: 5, expected: 5, exactlyOnce: 5, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, clientsComplete: 1 });
  });

  test('counts lost, duplicated, out-of-order and unaccepted arrivals separately', () => {
    const c = new Arrivals();
    c.connected(0);
    c.arrived(1, 1000, 1100);
    c.arrived(3, 3000, 3100);
    c.arrived(2, 2000, 3200); // after 3: out of order
    c.arrived(3, 3000, 3300); // a second copy
    c.arrived(3, 3000, 3400); // a third
    c.arrived(5, 5000, 5100); // refused by the server, yet arrived
    const other = new Arrivals();
    other.connected(0);
    for (const n of [1, 2, 3]) other.arrived(n, n * 1000, n * 1000 + 1);
    const counts = countDeliveries([c, other], published(5, [5]));
    expect(counts).toMatchObject({ clients: 2, accepted: 4, expected: 8, exactlyOnce: 2 + 3, lost: 1 + 1, duplicated: 2, outOfOrder: 1, unexpected: 1, clientsComplete: 0 });
  });
});

describe('Arrivals', () => {
  test('a first copy created before its connection was ready came by replay; a later one live', () => {
    const c = new Arrivals();
    c.connected(0);
    expect(c.arrived(1, 1000, 1100)).toEqual({ first: true, replayed: false });
    c.connected(5000); // reconnected: 2 and 3 were made while it was away
    expect(c.arrived(2, 2000, 5100)).toEqual({ first: true, replayed: true });
    expect(c.arrived(2, 2000, 5200)).toEqual({ first: false, replayed: false });
    expect(c.arrived(4, 6000, 6100)).toEqual({ first: true, replayed: false });
  });

  test('grows past its first allocation', () => {
    const c = new Arrivals();
    c.arrived(5000, 1, 2);
    expect(c.copiesOf(5000)).toBe(1);
    expect(c.firstArrival(5000)).toBe(2);
    expect([...c.received()]).toEqual([5000]);
  });
});

describe('recoveryTimes', () => {
  test('caught up is when the last message made before it was back arrived, and never with one missing', () => {
    const t0 = 10_000;
    const msgs: Published[] = [
      { n: 1, createdMicros: 5_000, accepted: true },
      { n: 2, createdMicros: 12_000, accepted: true }, // during the restart
      { n: 3, createdMicros: 30_000, accepted: true }, // after everyone is back
    ];
    const fast = new Arrivals();
    fast.connected(0);
    fast.arrived(1, 5_000, 5_100);
    fast.connected(20_000);
    fast.arrived(2, 12_000, 21_000); // replayed 1 ms after it was back
    fast.arrived(3, 30_000, 30_100);
    const lossy = new Arrivals();
    lossy.connected(0);
    lossy.arrived(1, 5_000, 5_100);
    lossy.connected(15_000);
    lossy.arrived(3, 30_000, 30_100); // 2 never came
    const gone = new Arrivals();
    gone.connected(0);
    const { back, caughtUp } = recoveryTimes([fast, lossy, gone], msgs, t0);
    expect(back).toEqual([10, 5, Infinity]);
    expect(caughtUp).toEqual([11, Infinity, Infinity]);
    expect(timeToFraction(caughtUp, 0.3)).toBe(11);
    expect(timeToFraction(back, 0.5)).toBe(10);
    expect(timeToFraction(back, 1)).toBe(Infinity);
  });
});

describe('ReplayDelays', () => {
  test('measures from creation and from the moment the network was back, whichever is later', () => {
    const d = new ReplayDelays();
    d.add(1_000, 3_000, 4_000); // made while offline: 3 ms from creation, 1 ms after back
    d.add(3_500, 3_000, 4_000); // made after it was back, before the connection was ready
    expect(d.fromPublish).toEqual([3, 0.5]);
    expect(d.fromOnline).toEqual([1, 0.5]);
  });
});

describe('payload stamps', () => {
  test('round-trip through any envelope, padded to size', () => {
    const payload = flakyPayload(123456, 42, 100);
    expect(payload).toHaveLength(100);
    expect(readStamp(`[1,7,2,"u",0,${JSON.stringify(payload)}]`)).toEqual({ createdMicros: 123456, n: 42 });
    expect(readStamp('{"event":"presence"}')).toBeUndefined();
    expect(readStamp('@@1;0;')).toBeUndefined();
  });
});
