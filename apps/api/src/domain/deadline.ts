/** Rejects with "no answer within `ms` ms" unless `work` settles first (readiness probes). */
export async function answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `work` settles or after `ms`, whichever comes first (shutdown grace periods). */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
