/**
 * A queue's opening hours (`queues[].openingHours`): when it takes calls. A call to a closed queue
 * never waits in it: call control refuses it (src/calls, "Closed queues") and `GET /queues` shows
 * `Status.OpenStatus` 0.
 *
 * ```yaml
 * openingHours:
 *   timezone: Europe/Helsinki          # IANA name; default UTC
 *   weekly:                            # absent: open around the clock (closedDates still apply)
 *     mon: ["08:00-16:00"]             # a day not listed (or []) is closed
 *     fri: ["08:00-12:00", "13:00-15:00"]
 *   closedDates: ["2030-12-24"]        # whole days closed, in the schedule's time zone
 * ```
 *
 * Ranges are `HH:MM-HH:MM` in local time, start inclusive, end exclusive; `24:00` ends a day. A
 * range may not cross midnight (write it as two ranges on two days). Daylight-saving changes are
 * the time zone's: the wall clock decides.
 */
import { z } from 'zod';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Minutes since local midnight: open from `fromMinute` (inclusive) to `toMinute` (exclusive, ≤ 1440). */
export interface OpeningRange {
  fromMinute: number;
  toMinute: number;
}

export interface OpeningHours {
  /** IANA time zone the ranges and dates are in. */
  timezone: string;
  /** Open ranges per weekday (a day without ranges is closed); null: open every day, all day. */
  weekly: Record<Weekday, OpeningRange[]> | null;
  /** Whole local days the queue is closed, `YYYY-MM-DD`. */
  closedDates: string[];
}

/** `Status.OpenStatus` of `GET /queues`. */
export const OPEN_STATUS = { closed: 0, open: 1 } as const;

const RANGE = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether the runtime knows the time zone (Intl throws a RangeError for an unknown one). */
export function isKnownTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** `08:00-16:00` → minutes, or a message saying what is wrong. */
export function parseOpeningRange(text: string): OpeningRange | string {
  const match = RANGE.exec(text.trim());
  if (!match) return `expected a range such as "08:00-16:00", got "${text}"`;
  const [fromHour, fromMin, toHour, toMin] = match.slice(1).map(Number) as [number, number, number, number];
  if (fromHour > 23 || fromMin > 59) return `"${text}": the start is not a time of day (00:00–23:59)`;
  if (toMin > 59 || toHour > 24 || (toHour === 24 && toMin !== 0))
    return `"${text}": the end is not a time of day (00:00–24:00)`;
  const fromMinute = fromHour * 60 + fromMin;
  const toMinute = toHour * 60 + toMin;
  if (toMinute <= fromMinute)
    return `"${text}": the end must be after the start (a range crossing midnight is two ranges on two days)`;
  return { fromMinute, toMinute };
}

/** Whether `YYYY-MM-DD` is a real calendar date. */
export function isCalendarDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

// ---------------------------------------------------------------------------------------------
// The configuration file's shape (used by ./schema.ts; problems carry their path, so the loader
// reports them at their line).

const rangeList = z
  .array(z.string({ error: 'expected a range such as "08:00-16:00" (a string)' }), {
    error: 'expected a list of ranges such as ["08:00-16:00"]',
  })
  .transform((texts, ctx) => {
    const ranges: OpeningRange[] = [];
    texts.forEach((text, index) => {
      const range = parseOpeningRange(text);
      if (typeof range === 'string')
        ctx.addIssue({ code: 'custom', path: [index], input: text, message: range });
      else ranges.push(range);
    });
    return ranges.sort((x, y) => x.fromMinute - y.fromMinute);
  });

export const openingHoursSchema = z
  .strictObject(
    {
      timezone: z
        .string({ error: 'expected an IANA time zone such as Europe/Helsinki' })
        .refine(isKnownTimeZone, {
          error: (issue) =>
            `unknown time zone "${String(issue.input)}"; expected an IANA name such as Europe/Helsinki`,
        })
        .default('UTC'),
      weekly: z
        .strictObject(
          Object.fromEntries(WEEKDAYS.map((day) => [day, rangeList.optional()])) as Record<
            Weekday,
            z.ZodOptional<typeof rangeList>
          >,
          { error: 'expected a mapping of weekdays (mon … sun) to lists of ranges' },
        )
        .nullish(),
      closedDates: z
        .array(
          z.string({ error: 'expected a date such as "2030-12-24" (a string)' }).refine(isCalendarDate, {
            error: (issue) => `"${String(issue.input)}" is not a date (YYYY-MM-DD)`,
          }),
          { error: 'expected a list of dates such as ["2030-12-24"]' },
        )
        .default([]),
    },
    {
      error:
        'expected a mapping such as { timezone: Europe/Helsinki, weekly: { mon: ["08:00-16:00"] }, closedDates: [] }',
    },
  )
  .transform(
    (entry): OpeningHours => ({
      timezone: entry.timezone,
      weekly:
        entry.weekly == null
          ? null
          : (Object.fromEntries(WEEKDAYS.map((day) => [day, entry.weekly?.[day] ?? []])) as Record<
              Weekday,
              OpeningRange[]
            >),
      closedDates: [...new Set(entry.closedDates)].sort(),
    }),
  );

/** The field names of `openingHours`, for "did you mean" hints. */
export const OPENING_HOURS_FIELDS = ['timezone', 'weekly', 'closedDates'] as const;

// ---------------------------------------------------------------------------------------------
// Evaluation

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
      hourCycle: 'h23',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

const WEEKDAY_OF: Record<string, Weekday> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};

/** The wall clock of `timezone` at `epochMs`: date, weekday and minute of the day. */
export function localTime(
  timezone: string,
  epochMs: number,
): { date: string; weekday: Weekday; minute: number } {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(epochMs))) parts[part.type] = part.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: WEEKDAY_OF[parts.weekday ?? ''] ?? 'mon',
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** Whether a queue with these opening hours takes calls at `epochMs` (no hours: always). */
export function isOpenAt(hours: OpeningHours | undefined, epochMs: number): boolean {
  if (!hours) return true;
  const local = localTime(hours.timezone, epochMs);
  if (hours.closedDates.includes(local.date)) return false;
  if (hours.weekly === null) return true;
  return hours.weekly[local.weekday].some(
    (range) => local.minute >= range.fromMinute && local.minute < range.toMinute,
  );
}

/** `Status.OpenStatus`: 1 open, 0 closed. */
export function openStatusAt(hours: OpeningHours | undefined, epochMs: number): number {
  return isOpenAt(hours, epochMs) ? OPEN_STATUS.open : OPEN_STATUS.closed;
}
