// The column order of the state stores' SELECTs (tasks, shards, batches, dead letters) and the
// mapping of one row to its record, shared by the SQLite and PostgreSQL stores. `Row` is the
// store's cursor over the current row: text(), int64(), int32() and json() each read the next
// column.
#pragma once

#include "runtime/state_store.h"

namespace strata::state_rows {

template <class Row>
Result<TaskRecord> task(Row& q) {
  TaskRecord t;
  t.id = q.text();
  t.policy_name = q.text();
  t.state = q.text();
  t.created_at = q.int64();
  t.updated_at = q.int64();
  t.finished_at = q.int64();
  STRATA_ASSIGN_OR_RETURN(t.policy, q.json());
  STRATA_ASSIGN_OR_RETURN(t.predicate, q.json());
  t.shards_total = q.int32();
  t.shards_done = q.int32();
  t.shards_failed = q.int32();
  t.rows = q.int64();
  t.rows_purged = q.int64();
  t.bytes_in = q.int64();
  t.bytes_out = q.int64();
  t.error = q.text();
  return t;
}

template <class Row>
Result<ShardRecord> shard(Row& q) {
  ShardRecord s;
  s.task_id = q.text();
  s.index = q.int32();
  s.state = q.text();
  STRATA_ASSIGN_OR_RETURN(s.range, q.json());
  s.estimated_rows = q.int64();
  s.rows = q.int64();
  s.rows_purged = q.int64();
  s.bytes_in = q.int64();
  s.bytes_out = q.int64();
  s.files = q.int32();
  s.attempts = q.int32();
  s.started_at = q.int64();
  s.finished_at = q.int64();
  s.error = q.text();
  s.lease_owner = q.text();
  s.lease_until = q.int64();
  return s;
}

template <class Row>
Result<BatchRecord> batch(Row& q) {
  BatchRecord b;
  b.task_id = q.text();
  b.shard = q.int32();
  b.seq = q.int32();
  b.rows = q.int64();
  b.bytes_in = q.int64();
  b.started_at = q.int64();
  b.finished_at = q.int64();
  return b;
}

template <class Row>
Result<DeadLetterRecord> dead_letter(Row& q) {
  DeadLetterRecord d;
  d.function = q.text();
  d.topic = q.text();
  d.event_json = q.text();
  d.attempts = q.int32();
  d.error = q.text();
  d.at = q.int64();
  return d;
}

template <class Row>
Result<PoolRecord> pool(Row& q) {
  PoolRecord p;
  p.worker = q.text();
  p.function = q.text();
  p.replicas = q.int32();
  p.min_replicas = q.int32();
  p.max_replicas = q.int32();
  p.backlog = q.int64();
  p.updated_at = q.int64();
  return p;
}

}  // namespace strata::state_rows
