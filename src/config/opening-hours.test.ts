import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { parseTenantYaml } from './load.js';
import { isOpenAt, localTime, openStatusAt, parseOpeningRange } from './opening-hours.js';

const tenantWith = (openingHours: string, user = '') =>
  parseTenantYaml(
    `
users:
  - username: a@example.com
    extension: "1001"
    password: secret-a${user}
queues:
  - name: Support
    extension: "100"
    openingHours:
${openingHours}
`,
    'tenant.yaml',
  );

/** The configuration problems of a file, one "line: path: message" each. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected the file to be refused');
}

describe('opening hours', () => {
  it('parses ranges, refusing what is not a range of one day', () => {
    expect(parseOpeningRange('08:00-16:30')).toEqual({ fromMinute: 480, toMinute: 990 });
    expect(parseOpeningRange('00:00-24:00')).toEqual({ fromMinute: 0, toMinute: 1440 });
    expect(parseOpeningRange('8-16')).toMatch(/expected a range such as "08:00-16:00"/);
    expect(parseOpeningRange('16:00-08:00')).toMatch(/end must be after the start.*crossing midnight/);
    expect(parseOpeningRange('24:00-24:30')).toMatch(/start is not a time of day/);
    expect(parseOpeningRange('08:00-24:01')).toMatch(/end is not a time of day/);
  });

  it('reads the wall clock of the time zone, across daylight saving time', () => {
    // 2030-01-07 is a Monday; Helsinki is UTC+2 in winter, UTC+3 in summer.
    expect(localTime('Europe/Helsinki', Date.UTC(2030, 0, 7, 6, 30))).toEqual({
      date: '2030-01-07',
      weekday: 'mon',
      minute: 8 * 60 + 30,
    });
    expect(localTime('Europe/Helsinki', Date.UTC(2030, 6, 1, 5, 0)).minute).toBe(8 * 60);
    expect(localTime('Europe/Helsinki', Date.UTC(2030, 0, 6, 22, 30))).toMatchObject({
      date: '2030-01-07',
      weekday: 'mon',
      minute: 30,
    });
  });

  it('is open in a weekly range, closed outside it, on other days and on closed dates', () => {
    const tenant = tenantWith(`      timezone: Europe/Helsinki
      weekly: { mon: ["08:00-12:00", "13:00-16:00"], sat: [] }
      closedDates: ["2030-01-14"]`);
    const hours = tenant.queues[0]!.openingHours!;
    expect(hours.weekly?.sat).toEqual([]);
    expect(hours.weekly?.tue).toEqual([]);
    const helsinki = (day: number, hour: number, minute = 0) => Date.UTC(2030, 0, day, hour - 2, minute);
    expect(isOpenAt(hours, helsinki(7, 8))).toBe(true);
    expect(isOpenAt(hours, helsinki(7, 7, 59))).toBe(false);
    expect(isOpenAt(hours, helsinki(7, 12, 30))).toBe(false);
    expect(isOpenAt(hours, helsinki(7, 15, 59))).toBe(true);
    expect(isOpenAt(hours, helsinki(7, 16))).toBe(false);
    expect(isOpenAt(hours, helsinki(8, 9))).toBe(false); // Tuesday: not listed
    expect(isOpenAt(hours, helsinki(14, 9))).toBe(false); // a closed Monday
    expect(openStatusAt(hours, helsinki(7, 9))).toBe(1);
    expect(openStatusAt(hours, helsinki(14, 9))).toBe(0);
    expect(openStatusAt(undefined, helsinki(14, 9))).toBe(1);
  });

  it('without weekly ranges is open around the clock except on closed dates; the zone defaults to UTC', () => {
    const hours = tenantWith('      closedDates: ["2030-12-24"]').queues[0]!.openingHours!;
    expect(hours).toEqual({ timezone: 'UTC', weekly: null, closedDates: ['2030-12-24'] });
    expect(isOpenAt(hours, Date.UTC(2030, 11, 23, 23, 59))).toBe(true);
    expect(isOpenAt(hours, Date.UTC(2030, 11, 24, 12))).toBe(false);
    expect(isOpenAt(hours, Date.UTC(2030, 11, 25, 0))).toBe(true);
  });

  it('names the line and field of every mistake at load', () => {
    const problems = problemsOf(() =>
      tenantWith(`      timezone: Europe/Helsinky
      weekly: { mon: ["08:00-16:00", "17:00"], tues: ["08:00-16:00"], fri: "08:00-16:00" }
      closedDates: ["2030-02-30", 20301224]
      holidays: []`),
    );
    expect(problems).toEqual([
      '10: queues[0].openingHours.timezone: unknown time zone "Europe/Helsinky"; expected an IANA name such as Europe/Helsinki',
      '11: queues[0].openingHours.weekly.mon[1]: expected a range such as "08:00-16:00", got "17:00"',
      `11: queues[0].openingHours.weekly.tues: unknown field; did you mean 'tue'?`,
      '11: queues[0].openingHours.weekly.fri: expected a list of ranges such as ["08:00-16:00"]',
      '12: queues[0].openingHours.closedDates[0]: "2030-02-30" is not a date (YYYY-MM-DD)',
      '12: queues[0].openingHours.closedDates[1]: expected a date such as "2030-12-24" (a string)',
      '13: queues[0].openingHours.holidays: unknown field',
    ]);
  });
});

describe('dndResponse', () => {
  it('defaults to busy, may say unavailable, and refuses anything else', () => {
    expect(tenantWith('      timezone: UTC').users[0]!.dndResponse).toBe('busy');
    expect(tenantWith('      timezone: UTC', '\n    dndResponse: unavailable').users[0]!.dndResponse).toBe(
      'unavailable',
    );
    expect(problemsOf(() => tenantWith('      timezone: UTC', '\n    dndResponse: silent'))).toEqual([
      '6: users[0].dndResponse: expected busy or unavailable',
    ]);
  });
});
