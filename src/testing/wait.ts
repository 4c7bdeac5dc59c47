/** Polling helpers for tests that wait on sockets and timers. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolve once `predicate` holds; reject after `timeoutMs`, naming `what` was awaited. */
export async function waitUntil(
  predicate: () => boolean,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    // Short: the timer suites measure intervals of tens of milliseconds.
    await sleep(2);
  }
}

/** `waitUntil` for a condition that must be awaited (REST, the journal, the media engine). */
export async function waitUntilAsync(
  predicate: () => Promise<boolean>,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
