/**
 * Table shapes as Kysely sees them (snake_case columns). Times are epoch milliseconds in BIGINT
 * columns (PostgreSQL's int8 is parsed to a JS number by the store's pool); `recording_ids` is a
 * JSON array in a text column; booleans are 0/1 integers so both dialects read them alike.
 */

export interface UserCallEventsTable {
  event_id: string;
  call_id: string;
  call_leg_id: string;
  user_id: string;
  user_name: string;
  call_type: string;
  direction: string;
  result: string;
  a_num: string;
  b_num: string;
  queue_id: string | null;
  queue_name: string | null;
  timestamp_ms: number;
  answer_time_ms: number | null;
  end_time_ms: number | null;
  duration_seconds: number;
  recording_ids: string;
  modified_ms: number;
}

export interface ServiceCallsTable {
  event_id: string;
  call_id: string;
  queue_id: string;
  queue_name: string;
  a_num: string;
  b_num: string;
  arrival_time_ms: number;
  answer_time_ms: number | null;
  end_time_ms: number | null;
  wait_time_seconds: number;
  duration_seconds: number;
  result: string | null;
  answered_by_user_id: string | null;
  answered_by_user_name: string | null;
  allocation_count: number;
  recording_ids: string;
  modified_ms: number;
}

export interface ServiceCallDetailsTable {
  event_id: string;
  call_id: string;
  call_leg_id: string | null;
  queue_id: string;
  queue_name: string;
  user_id: string | null;
  user_name: string | null;
  /** The numeric EventType code. */
  event_type: number;
  reason: string | null;
  timestamp_ms: number;
  modified_ms: number;
  seq: number;
  sub_seq: number;
}

export interface OutboundServiceCallsTable {
  event_id: string;
  call_id: string;
  call_leg_id: string;
  queue_id: string;
  queue_name: string;
  user_id: string;
  user_name: string;
  a_num: string;
  b_num: string;
  timestamp_ms: number;
  answer_time_ms: number | null;
  end_time_ms: number | null;
  duration_seconds: number;
  result: string | null;
  recording_ids: string;
  modified_ms: number;
}

export interface OutboundCallbackCallsTable {
  event_id: string;
  call_id: string;
  call_leg_id: string;
  callback_list_id: string;
  callback_list_name: string;
  callback_request_id: string;
  queue_id: string | null;
  user_id: string;
  user_name: string;
  a_num: string;
  b_num: string;
  timestamp_ms: number;
  answer_time_ms: number | null;
  end_time_ms: number | null;
  duration_seconds: number;
  result: string | null;
  recording_ids: string;
  modified_ms: number;
}

export interface CheckpointsTable {
  consumer: string;
  seq: number;
}

export interface SecretKeysTable {
  user_id: string;
  key_hash: string;
  created_ms: number;
}

export interface CallProgressTable {
  call_id: string;
  state: string;
  ended: number;
  last_seq: number;
  last_time_ms: number;
}

export interface CallbackRequestsTable {
  callback_request_id: string;
  callback_list_id: string;
  queue_id: string | null;
  number: string;
  call_id: string | null;
  origin: string;
  note: string | null;
  status: string;
  created_ms: number;
  created_by_user_id: string | null;
  closed_ms: number | null;
  closed_by_user_id: string | null;
  modified_ms: number;
}

export interface RecordsDatabase {
  user_call_events: UserCallEventsTable;
  service_calls: ServiceCallsTable;
  service_call_details: ServiceCallDetailsTable;
  outbound_service_calls: OutboundServiceCallsTable;
  outbound_callback_calls: OutboundCallbackCallsTable;
  checkpoints: CheckpointsTable;
  secret_keys: SecretKeysTable;
  call_progress: CallProgressTable;
  callback_requests: CallbackRequestsTable;
}
