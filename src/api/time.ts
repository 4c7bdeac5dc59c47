/**
 * Times on the wire. Filters arrive as EnreachAPI clients send them — `yyyy-MM-dd HH:mm:ss` in UTC,
 * with a space or a '+' between date and time (a form-encoded space stays a '+' when a client
 * encodes it as %2B) — or as ISO-8601 with an optional zone. Responses carry UTC ISO-8601 with 'Z':
 * the records' serializers format them (src/records/kinds/wire-time.ts, re-exported here).
 */
export { formatApiTime, formatApiTimeOrNull } from '../records/kinds/wire-time.js';

const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ Tt+](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Epoch milliseconds, or undefined when the text is not one of the accepted forms or not a real instant. */
export function parseApiTime(text: string): number | undefined {
  const match = TIME_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const [, yearText, monthText, dayText, hourText, minuteText, secondText, fractionText, zoneText] = match;
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  const hour = hourText === undefined ? 0 : Number(hourText);
  const minute = minuteText === undefined ? 0 : Number(minuteText);
  const second = secondText === undefined ? 0 : Number(secondText);
  const millisecond = fractionText === undefined ? 0 : Number(fractionText.slice(0, 3).padEnd(3, '0'));
  if (year < 1000 || month < 1 || month > 12) return undefined;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return undefined;

  let offsetMinutes = 0;
  if (zoneText !== undefined && zoneText.toUpperCase() !== 'Z') {
    const sign = zoneText.startsWith('-') ? -1 : 1;
    const digits = zoneText.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMins = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = sign * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millisecond);
  return date.getTime() - offsetMinutes * 60_000;
}
