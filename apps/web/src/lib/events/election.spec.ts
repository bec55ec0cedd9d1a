import { describe, expect, it } from 'vitest';
import { FakeLocks } from '../testing/fake-tabs';
import { LeaderElection } from './election';

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('LeaderElection', () => {
  it('elects one tab at a time, and the next in line when the leader closes', async () => {
    const locks = new FakeLocks();
    const elected: string[] = [];
    const a = new LeaderElection(locks, 'lead', () => elected.push('a'));
    const b = new LeaderElection(locks, 'lead', () => elected.push('b'));
    const c = new LeaderElection(locks, 'lead', () => elected.push('c'));
    await settle();
    expect(elected).toEqual(['a']);
    a.close();
    await settle();
    expect(elected).toEqual(['a', 'b']);
    b.close();
    await settle();
    expect(elected).toEqual(['a', 'b', 'c']);
    c.close();
  });

  it('a tab that leaves the line is never elected', async () => {
    const locks = new FakeLocks();
    const elected: string[] = [];
    const a = new LeaderElection(locks, 'lead', () => elected.push('a'));
    const b = new LeaderElection(locks, 'lead', () => elected.push('b'));
    const c = new LeaderElection(locks, 'lead', () => elected.push('c'));
    b.close();
    a.close();
    await settle();
    expect(elected).toEqual(['a', 'c']);
    c.close();
  });

  it('locks of another name are another election', async () => {
    const locks = new FakeLocks();
    const elected: string[] = [];
    const a = new LeaderElection(locks, 'one', () => elected.push('a'));
    const b = new LeaderElection(locks, 'two', () => elected.push('b'));
    await settle();
    expect(elected).toEqual(['a', 'b']);
    a.close();
    b.close();
  });
});
