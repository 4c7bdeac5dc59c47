import { expect } from 'vitest';
import { describeSippResult, type SippResult } from './sipp.js';

/** sipp ran its one call to completion and judged it successful (its statistics say so). */
export function expectSippPassed(result: SippResult): void {
  const summary = describeSippResult(result);
  expect(result.exitCode, summary).toBe(0);
  expect(result.timedOut, summary).toBe(false);
  expect(result.countsFromStats, summary).toBe(true);
  expect(result.successfulCalls, summary).toBe(1);
  expect(result.failedCalls, summary).toBe(0);
}
