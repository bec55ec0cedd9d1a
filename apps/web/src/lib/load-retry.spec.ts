import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoadRetry } from './load-retry';
import { LOAD_BACKOFF_CAP_MS } from '@rt/protocol';

describe('LoadRetry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the retry once, after a wait no longer than the cap', () => {
    const retry = new LoadRetry();
    const run = vi.fn();
    retry.schedule(run);
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(LOAD_BACKOFF_CAP_MS);
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(LOAD_BACKOFF_CAP_MS);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('keeps one retry waiting: a new one replaces it', () => {
    const retry = new LoadRetry();
    const first = vi.fn();
    const second = vi.fn();
    retry.schedule(first);
    retry.schedule(second);
    vi.advanceTimersByTime(LOAD_BACKOFF_CAP_MS);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('runs nothing once stopped, neither the retry waiting nor a later one', () => {
    const retry = new LoadRetry();
    const run = vi.fn();
    retry.schedule(run);
    retry.stop();
    retry.schedule(run);
    vi.advanceTimersByTime(LOAD_BACKOFF_CAP_MS);
    expect(run).not.toHaveBeenCalled();
  });
});
