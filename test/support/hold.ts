import { vi } from 'vitest';

/**
 * Holds the next call of `object[method]` open until `release()`, either before the real call
 * runs (`'before'`: it then sees whatever was written meanwhile) or after it returned (`'after'`:
 * its result is already fixed). `entered` resolves once the call is being held. Used to make
 * "events arrive while the replay runs" happen for certain instead of by luck.
 */
export function holdNextCall<T extends object, K extends keyof T>(object: T, method: K, when: 'before' | 'after') {
  const real = (object[method] as (...args: unknown[]) => Promise<unknown>).bind(object);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let enter!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  const spy = vi.spyOn(object, method as never).mockImplementationOnce((async (...args: unknown[]) => {
    if (when === 'before') {
      enter();
      await gate;
      return real(...args);
    }
    const result = await real(...args);
    enter();
    await gate;
    return result;
  }) as never);
  return { entered, release, restore: () => spy.mockRestore() };
}
