import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatApiTime, parseApiTime } from './time.js';

describe('parseApiTime', () => {
  it.each([
    ['2024-05-01 08:30:15', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01+08:30:15', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01T08:30:15', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01T08:30:15Z', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01t08:30:15z', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01T08:30:15.5Z', Date.UTC(2024, 4, 1, 8, 30, 15, 500)],
    ['2024-05-01T08:30:15.123456789Z', Date.UTC(2024, 4, 1, 8, 30, 15, 123)],
    ['2024-05-01T08:30Z', Date.UTC(2024, 4, 1, 8, 30)],
    ['2024-05-01T10:30:15+02:00', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01T10:30:15+0200', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01T06:30:15-02', Date.UTC(2024, 4, 1, 8, 30, 15)],
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-02-29 00:00:00', Date.UTC(2024, 1, 29)],
    ['2000-02-29 00:00:00', Date.UTC(2000, 1, 29)],
    ['  2024-05-01 08:30:15  ', Date.UTC(2024, 4, 1, 8, 30, 15)],
  ])('reads %j', (text, expected) => {
    expect(parseApiTime(text)).toBe(expected);
  });

  it.each([
    '',
    'now',
    '2024-5-1 08:30:15',
    '2024-05-01 8:30:15',
    '2024-05-01 08:30:15 +02:00',
    '2024-00-10 00:00:00',
    '2024-04-31 00:00:00',
    '2023-02-29 00:00:00',
    '1900-02-29 00:00:00',
    '2024-05-01 24:00:00',
    '2024-05-01 23:60:00',
    '2024-05-01 23:59:60',
    '0999-01-01',
    '2024-05-01T08:30:15+24:00',
    '2024-05-01T08:30:15+02:60',
    '2024-05-01T08:30:15.Z',
    '/Date(1714552215000)/',
  ])('refuses %j', (text) => {
    expect(parseApiTime(text)).toBeUndefined();
  });

  it('reads back every time it formats, in both request forms', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31) }), (epochMs) => {
        expect(parseApiTime(formatApiTime(epochMs))).toBe(epochMs);
        const seconds = Math.floor(epochMs / 1000) * 1000;
        const spaced = formatApiTime(seconds).slice(0, 19).replace('T', ' ');
        expect(parseApiTime(spaced)).toBe(seconds);
        expect(parseApiTime(spaced.replace(' ', '+'))).toBe(seconds);
      }),
    );
  });

  it('formats UTC ISO-8601 with milliseconds and Z', () => {
    expect(formatApiTime(Date.UTC(2024, 4, 1, 8, 30, 15, 7))).toBe('2024-05-01T08:30:15.007Z');
  });
});
