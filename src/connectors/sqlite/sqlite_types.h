// How SQLite's dynamically typed values map onto Strata's logical types.
//
// Declared column types are mapped by SQLite's affinity rules plus well-known type names, and a
// time column (SQLite has no timestamp type) is recognised from one stored value: ISO text in a
// fixed layout, or an epoch number in seconds, milliseconds or microseconds. Predicates compare
// the column against a cutoff rendered in that same representation, so an index on the column
// stays usable; values read back as microseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/schema.h"
#include "core/status.h"

namespace strata::sqlite {

// The Strata column for a declared type: INT* -> int64; REAL/FLOA/DOUB -> double; BOOL* -> bool;
// CHAR/CLOB/TEXT -> string; BLOB or empty -> bytes; TIMESTAMP*/DATETIME -> timestamp;
// DATE -> date; DECIMAL(p[,s])/NUMERIC(p[,s]) -> decimal; JSON* -> json; anything else ->
// string. source_type keeps the declared text.
Column column_for_declared_type(std::string name, std::string declared_type, bool not_null);

// How the values of a time column are stored.
struct TimeEncoding {
  enum class Kind { kText, kEpochInt, kEpochReal };
  Kind kind = Kind::kText;
  // kEpochInt / kEpochReal: microseconds per stored unit (1, 1000 or 1000000).
  int64_t unit_micros = 1000000;
  // kText: the layout of the sample, "YYYY-MM-DD[<sep>HH:MM[:SS[.f...]]][suffix]".
  bool has_time = true;
  char separator = ' ';
  bool has_seconds = true;
  int fraction_digits = 0;
  std::string suffix;         // "", "Z", "+02:00", ...
  int64_t offset_micros = 0;  // what `suffix` adds to UTC

  // Human form for plans and messages: "ISO text 'YYYY-MM-DD HH:MM:SS'", "epoch milliseconds".
  std::string describe() const;
};

// The encoding of one stored value, given its SQLite storage class and text/number.
// Text that is not an ISO timestamp -> permanent error quoting it.
Result<TimeEncoding> detect_text_encoding(std::string_view text);
TimeEncoding detect_int_encoding(int64_t value);
TimeEncoding detect_real_encoding(double value);
// Epoch unit decided by magnitude: < 1e11 seconds, < 1e14 milliseconds, else microseconds.
int64_t epoch_unit_for_magnitude(double abs_value);

// `cutoff` (µs UTC) as a value of `enc`, rounded up to the encoding's precision so that
// `column < cutoff` and `column >= cutoff` select exactly the instants they would in µs (for
// values stored in the same layout).
Value encode_cutoff(const TimeEncoding& enc, int64_t cutoff_micros);

// Decimal text normalised to exactly `scale` fraction digits ("12.5" -> "12.50" for scale 2;
// "1.0e+3" -> "1000.00"), so that a value read here and read back from a file compare equal.
// Digits beyond `scale` that are not zero -> error (the value does not fit the declared type).
Status normalize_decimal(std::string_view text, int scale, std::string& out);

}  // namespace strata::sqlite
