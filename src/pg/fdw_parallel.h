// A query that reads a contractor_verify foreign table is planned without
// parallel workers. Its scans read the cache with fresh snapshots (to see
// answers the worker records meanwhile) and may buy answers, and parallel
// mode, which a Gather anywhere in the plan puts the whole query in, forbids
// both. A planner hook clears the query's permission to go parallel when its
// range tables (subqueries, CTEs and sublinks included) hold such a table.
#pragma once

namespace cv::pg {

// Installs the planner hook (from _PG_init).
void fdw_parallel_init();

}  // namespace cv::pg
