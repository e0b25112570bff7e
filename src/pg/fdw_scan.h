// Running a scan of a contractor_verify foreign table: its keys computed,
// answered from the cache before the first row, the rest bought in batches
// as the rows that need them are returned (fdw_fetch), a row per key; EXPLAIN says what it expects to
// spend, EXPLAIN ANALYZE what it spent.
#pragma once

#include "pg/pg_headers.h"

extern "C" {
#include "commands/explain.h"
#include "nodes/execnodes.h"
}

namespace cv::pg {

void fdw_begin_scan(ForeignScanState* node, int eflags);
TupleTableSlot* fdw_iterate(ForeignScanState* node);
void fdw_rescan(ForeignScanState* node);
void fdw_end_scan(ForeignScanState* node);
void fdw_explain_scan(ForeignScanState* node, ExplainState* es);

}  // namespace cv::pg
