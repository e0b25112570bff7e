// contractor_verify.max_live_lookups: how many lookups the cache cannot
// answer (live lookups, each a record sent to the API) one statement may
// make. A scan, batch or lookup that would take its statement past the limit
// is refused before it sends anything, saying how many it needs.
#pragma once

#include <cstdint>

#include "pg/pg_headers.h"

extern "C" {
#include "datatype/timestamp.h"
}

namespace cv::pg {

// The client statement the current work belongs to, known by when it was
// defined: its start, or for a query run in parts by later statements (a
// cursor's FETCHes) its portal's creation.
TimestampTz statement_defined_at();

// Counts `needed` live lookups against the current statement, or throws
// Error(BudgetExceeded) without counting them. `what` names the work in the
// message ("this scan", "this batch").
void spend_live_lookups(std::int64_t needed, const char* what);

}  // namespace cv::pg
