// The batched join: a join of any relation (the outer side) to a
// contractor_verify foreign table on its keys runs the outer side first,
// collects its distinct keys, answers them from the cache, then joins each
// outer row to its key's row, buying the keys the cache did not answer in
// rounds of batch calls as the rows that need them come (fdw_fetch): a join
// stopped early (LIMIT, EXISTS, a cursor closed) buys only what its rows
// needed. A nested loop over the foreign table would look the keys up one
// outer row at a time.
//
// Offered by set_join_pathlist_hook for inner, left, semi and anti joins
// (and an IN (subquery) joined to its distinct rows) whose clauses give the
// foreign table's state (or its own quals a single one) and its
// license_number, lookup_name or business_name from the outer side; a custom
// scan runs it.
#pragma once

namespace cv::pg {

// Installs the planner hook and registers the custom scan (from _PG_init).
void fdw_join_init();

}  // namespace cv::pg
