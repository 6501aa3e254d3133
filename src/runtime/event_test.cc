// CloudEvents envelopes: JSON round trip, validation, ids and traceparent propagation.
#include "runtime/event.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

namespace strata {
namespace {

// True if `text` has the shape of `pattern`, where 'h' is a lowercase hex digit, 'd' a decimal
// digit, anything else itself. (std::regex trips g++ 12 warnings under the sanitizers.)
bool matches(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool digit = c >= '0' && c <= '9';
    switch (pattern[i]) {
      case 'h':
        if (!digit && !(c >= 'a' && c <= 'f')) return false;
        break;
      case 'd':
        if (!digit) return false;
        break;
      default:
        if (c != pattern[i]) return false;
    }
  }
  return true;
}

const std::string kTraceparent = "00-" + std::string(32, 'h') + "-" + std::string(16, 'h') + "-01";

std::string trace_id(const std::string& traceparent) { return traceparent.substr(3, 32); }
std::string span_id(const std::string& traceparent) { return traceparent.substr(36, 16); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Event, JsonRoundTripKeepsEveryAttribute) {
  Event e = make_event("strata.shard.archived", "strata/archive", "t1/3",
                       Json{{"rows", 42}, {"files", Json::array({"a", "b"})}});
  Json j = e.to_json();
  EXPECT_EQ(j["specversion"], "1.0");
  EXPECT_EQ(j["datacontenttype"], "application/json");
  EXPECT_EQ(j["traceparent"], e.traceparent);
  EXPECT_EQ(j["data"]["rows"], 42);

  auto back = Event::parse(e.to_string());
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->source, e.source);
  EXPECT_EQ(back->type, e.type);
  EXPECT_EQ(back->subject, e.subject);
  EXPECT_EQ(back->time, e.time);
  EXPECT_EQ(back->traceparent, e.traceparent);
  EXPECT_EQ(back->data, e.data);
}

TEST(Event, ToStringSurvivesInvalidUtf8) {
  Event e = make_event("t", "s", "", Json{{"error", "latin-1 \xe9t\xe9 from a driver"}});
  std::string text;
  ASSERT_NO_THROW(text = e.to_string());
  auto back = Event::parse(text);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->id, e.id);
}

TEST(Event, TimeIsRfc3339UtcWithMicroseconds) {
  Event e = make_event("t", "s", "", Json::object());
  EXPECT_TRUE(matches(e.time, "dddd-dd-ddTdd:dd:dd.ddddddZ")) << e.time;
}

TEST(Event, AcceptsAForeignProducersMinimalEvent) {
  // What another program (or a Dapr sidecar) may publish on strata.tasks.
  auto e =
      Event::parse(R"({"specversion":"1.0","id":"x1","source":"cron","type":"strata.task.requested",
                            "datacontenttype":"application/cloudevents+json","unknownext":"kept out"})");
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  EXPECT_EQ(e->id, "x1");
  EXPECT_TRUE(e->subject.empty());
  EXPECT_TRUE(e->traceparent.empty());
  EXPECT_EQ(e->data, Json::object());
}

TEST(Event, ValidationNamesTheProblem) {
  Json good = make_event("t", "s", "subj", Json::object()).to_json();

  for (const char* required : {"specversion", "id", "source", "type"}) {
    Json j = good;
    j.erase(required);
    auto r = Event::from_json(j);
    ASSERT_FALSE(r.is_ok()) << required;
    EXPECT_TRUE(r.status().is_permanent());
    EXPECT_TRUE(contains(r.status().message(), std::string("\"") + required + "\""))
        << r.status().message();
  }

  Json wrong_version = good;
  wrong_version["specversion"] = "0.3";
  auto r = Event::from_json(wrong_version);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "0.3"));
  EXPECT_TRUE(contains(r.status().message(), good["id"].get<std::string>()))
      << "the error names the event id";

  Json empty_id = good;
  empty_id["id"] = "";
  EXPECT_FALSE(Event::from_json(empty_id).is_ok());

  Json numeric_subject = good;
  numeric_subject["subject"] = 7;
  r = Event::from_json(numeric_subject);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "subject"));

  Json xml = good;
  xml["datacontenttype"] = "application/xml";
  EXPECT_FALSE(Event::from_json(xml).is_ok());

  Json binary = good;
  binary.erase("data");
  binary["data_base64"] = "AAAA";
  EXPECT_FALSE(Event::from_json(binary).is_ok());

  EXPECT_FALSE(Event::from_json(Json::array()).is_ok());
  auto not_json = Event::parse("{\"specversion\": ");
  ASSERT_FALSE(not_json.is_ok());
  EXPECT_TRUE(contains(not_json.status().message(), "not JSON"));
}

TEST(Event, IdsAre128BitHexAndUniqueAcrossThreads) {
  std::mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(new_id());
      std::lock_guard lock(mu);
      ids.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 20000u);
  for (const auto& id : ids) {
    ASSERT_TRUE(matches(id, std::string(32, 'h'))) << id;
  }
}

TEST(Event, TraceparentStartsATraceAndChildrenKeepIt) {
  Event root = make_event("strata.task.requested", "strata/cli", "t1", Json::object());
  ASSERT_TRUE(matches(root.traceparent, kTraceparent)) << root.traceparent;

  Event child = make_event("strata.shard.planned", "strata/split", "t1/0", Json::object(), &root);
  Event grandchild =
      make_event("strata.shard.archived", "strata/archive", "t1/0", Json::object(), &child);
  ASSERT_TRUE(matches(child.traceparent, kTraceparent));
  EXPECT_EQ(trace_id(child.traceparent), trace_id(root.traceparent));
  EXPECT_EQ(trace_id(grandchild.traceparent), trace_id(root.traceparent));
  EXPECT_NE(span_id(child.traceparent), span_id(root.traceparent));
  EXPECT_NE(span_id(grandchild.traceparent), span_id(child.traceparent));
  EXPECT_NE(child.id, root.id);

  Event other_root = make_event("strata.task.requested", "strata/cli", "t2", Json::object());
  EXPECT_NE(trace_id(other_root.traceparent), trace_id(root.traceparent));
}

TEST(Event, TraceparentFromAForeignParentIsValidatedAndSurvivesTheWire) {
  Event parent = make_event("t", "dapr-app", "", Json::object());
  parent.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto wire = Event::parse(parent.to_string());
  ASSERT_TRUE(wire.is_ok()) << wire.status().to_string();
  Event child = make_event("t", "s", "", Json::object(), &*wire);
  EXPECT_EQ(trace_id(child.traceparent), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(span_id(child.traceparent), "00f067aa0ba902b7");

  for (const char* bad : {"garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    parent.traceparent = bad;
    Event fresh = make_event("t", "s", "", Json::object(), &parent);
    EXPECT_TRUE(matches(fresh.traceparent, kTraceparent)) << bad;
    EXPECT_NE(trace_id(fresh.traceparent), "4bf92f3577b34da6a3ce929d0e0e4736") << bad;
  }
}

}  // namespace
}  // namespace strata
