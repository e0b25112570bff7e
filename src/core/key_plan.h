// The keys of a foreign-table scan or a batched join, as the query gave them,
// turned into distinct lookups and the rows they answer.
#pragma once
#include "core/no_postgres.h"

#include "core/batch_protocol.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace cv::core {

// What a key names: a license by its number, or a business by its name.
enum class KeyKind { License, Name };

// One row of the table a key selects.
struct KeyRow {
    KeyKind kind = KeyKind::License;
    std::string state;         // as the query gave it
    std::string value;         // the license number or the name, as given
    std::int64_t lookup = -1;  // index into lookups(); -1: the key cannot be looked up
    std::string error;         // why it cannot (the row is an INVALID_INPUT row)
    // A name given as the business name the rows must have: a row that is an
    // error (no license found, a failed call) shows it as its business_name,
    // so that it passes that qual instead of vanishing.
    bool by_business_name = false;
};

// The table holds each license under its normalized key: an upper-case state
// code and the license number as cv_verify normalizes it. A key in another
// form ('ca', ' 1052183') can match no row, so it gets none and costs
// nothing. A name is looked up by its normalized form and the row shows the
// name as given, so names in any form get their row; names that normalize
// alike share one lookup. A key that cannot be looked up at all (an unknown
// state, a control character, an empty value) gets a row with the error.
class KeyPlanner {
public:
    // Returns the index of the key's row in rows() (the same key again: the
    // same row), or -1 when no row can match the key. by_business_name: a
    // name the rows must have as their business_name (KeyRow).
    std::int64_t add(const std::string& state, const std::string& value, KeyKind kind,
                     bool by_business_name = false);

    // Distinct lookups, in order of first appearance; lookup i has lookup_id i + 1.
    const std::vector<LookupItem>& lookups() const { return lookups_; }
    // Lookup i's normalized key: equal for lookups that are one lookup
    // (names that normalize alike), different otherwise.
    const std::string& lookup_key(std::size_t i) const { return lookup_keys_[i]; }
    const std::vector<KeyRow>& rows() const { return rows_; }
    // Keys that matched no row because they are not in the stored form.
    std::int64_t unmatchable() const { return unmatchable_; }
    // Keys added, repeats included.
    std::int64_t keys_added() const { return added_; }

private:
    std::unordered_map<std::string, std::int64_t> row_of_;     // raw key -> row (or -1)
    std::unordered_map<std::string, std::int64_t> lookup_of_;  // normalized key -> lookup
    std::vector<LookupItem> lookups_;
    std::vector<std::string> lookup_keys_;
    std::vector<KeyRow> rows_;
    std::int64_t unmatchable_ = 0;
    std::int64_t added_ = 0;
};

// API calls `misses` live lookups take at most, in batches of batch_size.
std::int64_t calls_needed(std::int64_t misses, int batch_size);

// The planner's cost of looking `keys` distinct keys up, `misses` of them
// live, in units where reading a page costs 1: a cache probe costs about an
// index probe, a live lookup a record's share of a call, and a call what a
// round trip to the API costs (about a thousand page reads).
double lookup_cost(double keys, double misses, int batch_size);
// A cache probe, and a live lookup's cost when it is alone in its call.
inline constexpr double kProbeCost = 0.1;
inline constexpr double kRecordCost = 10.0;
inline constexpr double kCallCost = 1000.0;

}  // namespace cv::core
