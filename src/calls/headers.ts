/**
 * The product's own SIP headers: call control stamps its identifiers on what it sends and reads
 * the requests for queues agents make. The SIP layer knows none of them; to it they are extension
 * headers like any other, kept in the spelling they arrive with.
 */
export const CALL_HEADERS = {
  /** Every 18x/2xx to the caller and every INVITE we place: the server CallId (DESIGN.md §1). */
  serverCallId: 'X-Server-Call-Id',
  /** Same messages: the CallLegId of the leg the message belongs to. */
  callLegId: 'X-Call-Leg-Id',
  /** INVITEs offering a queue call to a member: which queue, by id and by name. */
  queueId: 'X-Queue-Id',
  queueName: 'X-Queue-Name',
  /** An agent's INVITE placing an outbound service call for a queue (id, name, extension or number). */
  onBehalfOfQueue: 'X-On-Behalf-Of-Queue',
  /** An agent's INVITE placing the callback call of a callback request. */
  callbackRequestId: 'X-Callback-Request-Id',
  /**
   * Queue audio (DESIGN.md §9): `waiting` on the 200 OK with which a queue answers its caller
   * (with X-Queue-Id / X-Queue-Name), `connected` on the re-INVITE that bridges the caller to the
   * agent. A webphone shows "in queue" from it.
   */
  queueState: 'X-Queue-State',
  /** With `X-Queue-State: waiting`: how long the greeting plays (ms; 0 = none), then music. */
  queueGreetingMs: 'X-Queue-Greeting-Ms',
} as const;
