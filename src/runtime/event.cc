// CloudEvents 1.0 structured JSON envelopes, W3C traceparent propagation and random ids.
#include "runtime/event.h"

#include <array>
#include <cstdint>
#include <ctime>
#include <random>
#include <string_view>

#include "core/clock.h"
#include "core/log.h"

namespace strata {

namespace {

constexpr std::string_view kSpecVersion = "1.0";
constexpr std::string_view kContentType = "application/json";

// One generator per thread, seeded from the OS: no lock, no shared state.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return rng;
}

void append_hex(std::string& out, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 0xf]);
}

// `n_words` random 64-bit words as lowercase hex, never all zeros (W3C forbids zero ids).
std::string random_hex(int n_words) {
  auto& rng = thread_rng();
  std::string out;
  out.reserve(static_cast<size_t>(16 * n_words));
  bool all_zero = true;
  for (int i = 0; i < n_words; ++i) {
    uint64_t v = rng();
    all_zero = all_zero && v == 0;
    append_hex(out, v, 16);
  }
  if (all_zero) out.back() = '1';
  return out;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// The trace id of a valid W3C traceparent "vv-<32 hex>-<16 hex>-ff", or empty.
std::string_view trace_id_of(std::string_view tp) {
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return {};
  std::string_view version = tp.substr(0, 2);
  std::string_view trace = tp.substr(3, 32);
  std::string_view span = tp.substr(36, 16);
  std::string_view flags = tp.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff") return {};
  if (version == "00" && tp.size() != 55) return {};
  if (!is_lower_hex(trace) || is_all_zero(trace)) return {};
  if (!is_lower_hex(span) || is_all_zero(span)) return {};
  if (!is_lower_hex(flags)) return {};
  return trace;
}

std::string make_traceparent(std::string_view trace_id) {
  std::string tp = "00-";
  tp += trace_id.empty() ? random_hex(2) : std::string(trace_id);
  tp += '-';
  tp += random_hex(1);
  tp += "-01";
  return tp;
}

// RFC 3339 UTC with microseconds: 2026-11-01T12:34:56.123456Z.
std::string format_rfc3339_micros(int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> buf{};
  size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf.data() + n, buf.size() - n, ".%06lldZ", static_cast<long long>(frac));
  return buf.data();
}

Status invalid(const std::string& what, const Json& j) {
  std::string msg = "invalid CloudEvent: " + what;
  if (j.is_object()) {
    auto it = j.find("id");
    if (it != j.end() && it->is_string()) msg += " (event id " + it->get<std::string>() + ")";
  }
  return Status::permanent(std::move(msg));
}

// Reads a string attribute; `required` ones must be present and non-empty.
Status read_string(const Json& j, const char* name, bool required, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return invalid(std::string("missing required attribute \"") + name + "\"", j);
    return Status::ok();
  }
  if (!it->is_string()) {
    return invalid(
        std::string("attribute \"") + name + "\" must be a string, got " + it->type_name(), j);
  }
  out = it->get<std::string>();
  if (required && out.empty()) {
    return invalid(std::string("required attribute \"") + name + "\" is empty", j);
  }
  return Status::ok();
}

}  // namespace

Json Event::to_json() const {
  Json j = Json::object();
  j["specversion"] = kSpecVersion;
  j["id"] = id;
  j["source"] = source;
  j["type"] = type;
  if (!subject.empty()) j["subject"] = subject;
  if (!time.empty()) j["time"] = time;
  j["datacontenttype"] = kContentType;
  if (!traceparent.empty()) j["traceparent"] = traceparent;
  j["data"] = data;
  return j;
}

Result<Event> Event::from_json(const Json& j) {
  if (!j.is_object())
    return invalid(std::string("expected a JSON object, got ") + j.type_name(), j);
  std::string specversion;
  STRATA_TRY(read_string(j, "specversion", true, specversion));
  if (specversion != kSpecVersion) {
    return invalid("unsupported specversion \"" + specversion + "\" (expected \"1.0\")", j);
  }
  Event e;
  STRATA_TRY(read_string(j, "id", true, e.id));
  STRATA_TRY(read_string(j, "source", true, e.source));
  STRATA_TRY(read_string(j, "type", true, e.type));
  STRATA_TRY(read_string(j, "subject", false, e.subject));
  STRATA_TRY(read_string(j, "time", false, e.time));
  STRATA_TRY(read_string(j, "traceparent", false, e.traceparent));
  std::string content_type;
  STRATA_TRY(read_string(j, "datacontenttype", false, content_type));
  if (!content_type.empty() && content_type != kContentType &&
      content_type.find("json") == std::string::npos) {
    return invalid("datacontenttype \"" + content_type + "\" is not JSON", j);
  }
  if (j.contains("data_base64")) return invalid("\"data_base64\" is not supported", j);
  auto data = j.find("data");
  if (data != j.end() && !data->is_null()) e.data = *data;
  return e;
}

Result<Event> Event::parse(const std::string& text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return Status::permanent(std::string("invalid CloudEvent: not JSON: ") + e.what());
  }
  return from_json(j);
}

Event make_event(std::string type, std::string source, std::string subject, Json data,
                 const Event* parent) {
  Event e;
  e.id = new_id();
  e.source = std::move(source);
  e.type = std::move(type);
  e.subject = std::move(subject);
  e.time = format_rfc3339_micros(system_clock().now_micros());
  std::string_view trace;
  if (parent != nullptr) {
    trace = trace_id_of(parent->traceparent);
    if (trace.empty() && !parent->traceparent.empty()) {
      spdlog::debug("event {}: invalid traceparent \"{}\", starting a new trace", parent->id,
                    parent->traceparent);
    }
  }
  e.traceparent = make_traceparent(trace);
  e.data = std::move(data);
  return e;
}

std::string new_id() { return random_hex(2); }

}  // namespace strata
