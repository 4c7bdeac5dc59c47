/**
 * Times in REST responses, as every record's serializer writes them. Parsing the times that
 * requests carry is the API's side (src/api/time.ts).
 */

/** The one response format (X-Json-Serializer: 2): UTC ISO-8601 with milliseconds and 'Z'. */
export function formatApiTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

export function formatApiTimeOrNull(epochMs: number | null): string | null {
  return epochMs === null ? null : formatApiTime(epochMs);
}
