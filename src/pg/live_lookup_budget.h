// contractor_verify.max_live_lookups: how many lookups the cache cannot
// answer (live lookups, each a record sent to the API) one statement may
// make. A scan, batch or lookup that would take its statement past the limit
// is refused before it sends anything, saying how many it needs.
#pragma once

#include <cstdint>

namespace cv::pg {

// Counts `needed` live lookups against the current statement, or throws
// Error(BudgetExceeded) without counting them. `what` names the work in the
// message ("this scan", "this batch").
void spend_live_lookups(std::int64_t needed, const char* what);

// Throws as spend_live_lookups would, counting nothing: a scan that buys its
// misses as it returns rows is refused up front when all of them would not
// fit, and counts each round as it buys it.
void check_live_lookups(std::int64_t needed, const char* what);

}  // namespace cv::pg
