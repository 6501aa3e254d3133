// Durations as users write them: "30d", "12h", "90m", "45s", "250ms", "1h30m".
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata {

using Micros = std::chrono::microseconds;

// Called after each step of a long piece of work with the time the step took, so that the
// caller can pause there (its throttle). Unset: no pause.
using Pace = std::function<void(std::chrono::steady_clock::duration)>;

Result<Micros> parse_duration(std::string_view text);
// Shortest exact form: 2592000000000us -> "30d", 5400s -> "1h30m".
std::string format_duration(Micros d);
// Human form for progress and summaries: "1.25s", "3m12s", "850ms".
std::string format_elapsed(double seconds);

}  // namespace strata
