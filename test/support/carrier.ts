/**
 * The outside world of the trunk suites (test/trunk.sipp.test.ts, test/outbound.sipp.test.ts):
 * the numbers the carrier's side dials and is dialled at (sipp plays the carrier on the trunk's
 * own port), and the trunk entry of their tenants.
 */

/** Queue Support's public number, as the carrier dials it and as outbound calls present it. */
export const QUEUE_NUMBER = '+35810100100';
/** Someone outside calling in through the trunk. */
export const EXTERNAL_CALLER = '+358501234567';
/** Someone outside our users call through the trunk. */
export const EXTERNAL_CALLEE = '+4930123456';
/** X-Server-Call-Id and X-Call-Leg-Id values are UUIDs. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Tenant YAML: the SIP `domain`, `entities` (its `users:`, `queues:`… sections) and the trunk
 * `pstn`, the carrier on the loopback at `trunkPort` (chosen when the suite starts).
 */
export function withTrunk(domain: string, trunkPort: number, entities: string): string {
  return `
domain: ${domain}
${entities.trim()}
trunks:
  - { name: pstn, host: 127.0.0.1, port: ${trunkPort} }
`;
}
