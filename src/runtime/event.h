// CloudEvents 1.0 (JSON format) envelopes for the control plane. Rows never travel in events.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace strata {

using Json = nlohmann::json;

// Topics of the chain (see docs/design.md). Archive topics are per source kind:
// "strata.shards.sqlite", "strata.shards.postgres", ...
inline constexpr const char* kTopicTasks = "strata.tasks";
inline constexpr const char* kTopicShardsPrefix = "strata.shards.";
inline constexpr const char* kTopicPurge = "strata.purge";
inline constexpr const char* kTopicStatus = "strata.status";

struct Event {
  std::string id;           // unique per event (not per delivery)
  std::string source;       // "strata/<function>"
  std::string type;         // e.g. "strata.task.requested", "strata.shard.archived"
  std::string subject;      // task id, or "<task>/<shard>"
  std::string time;         // RFC 3339 UTC
  std::string traceparent;  // W3C trace context, carried along the chain
  Json data = Json::object();

  // Envelope fields per CloudEvents 1.0 JSON ("specversion": "1.0", "datacontenttype").
  Json to_json() const;
  // Invalid UTF-8 in strings is replaced (U+FFFD) rather than thrown on.
  std::string to_string() const {
    return to_json().dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  static Result<Event> from_json(const Json& j);
  static Result<Event> parse(const std::string& text);
};

// A new event with a fresh id and the current time. `parent` (may be null) passes its
// traceparent trace id on, with a new span id; without a parent a new trace starts.
Event make_event(std::string type, std::string source, std::string subject, Json data,
                 const Event* parent = nullptr);

std::string new_id();  // 128-bit random hex

}  // namespace strata
