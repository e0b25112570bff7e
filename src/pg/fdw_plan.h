// Planning a scan of a contractor_verify foreign table: its keys, its cost
// (cache probes, live lookups, calls) and its paths. A scan needs keys: the
// API has no way to list licenses, so a path without them is priced out, and
// refused with a hint if nothing else can run the query.
#pragma once

#include "pg/fdw_columns.h"
#include "pg/fdw_keys.h"
#include "pg/pg_headers.h"

extern "C" {
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
}

namespace cv::pg {

// What planning learned of a foreign table's relation (its fdw_private).
struct FdwRelInfo {
    Oid server = InvalidOid;
    Oid table = InvalidOid;
    char* table_name = nullptr;
    int natts = 0;
    int* columns = nullptr;  // per attribute: the column it shows (fdw_columns.h)
    KeyAttributes keys;
    int batch_size = 100;
    bool has_keys = false;  // the relation's own quals name keys for every row
    KeySpec spec;
    double key_rows = 0;             // rows the keys select (one per key)
    double lookups = 0;              // distinct lookups among them
    double expected_hits = -1;       // lookups the cache answers now (-1: unknown)
    Oid check_as_user = InvalidOid;  // whose user mapping (a view's owner)
};

// The relation's info when it is a foreign table of this wrapper, else null.
FdwRelInfo* fdw_rel_info(RelOptInfo* rel);

// The FDW callbacks (the guard is theirs).
void fdw_get_rel_size(PlannerInfo* root, RelOptInfo* baserel, Oid table);
void fdw_get_paths(PlannerInfo* root, RelOptInfo* baserel, Oid table);
ForeignScan* fdw_get_plan(PlannerInfo* root, RelOptInfo* baserel, Oid table, ForeignPath* best_path,
                          List* tlist, List* scan_clauses, Plan* outer_plan);

// Fields of a ForeignScan's fdw_private.
// The ForeignScan's fdw_exprs are the key expressions, then the quals on key
// columns alone (KeyFilter), as many as kPrivKeyQualMasks has masks.
enum FdwPrivate {
    kPrivWays,
    kPrivColumns,
    kPrivFigures,
    kPrivTableName,
    kPrivKeyQualMasks,
    kPrivCount
};
// Fields of its figures.
enum FdwFigure {
    kFigKeyRows,
    kFigKeysExact,
    kFigKeysConstant,
    kFigLookups,
    kFigExpectedHits,
    kFigBatchSize,
    kFigPerRescan,
    kFigCount
};

// Postgres code: the error of a scan that has no keys.
[[noreturn]] void refuse_keyless_scan(const FdwRelInfo* info);

}  // namespace cv::pg
