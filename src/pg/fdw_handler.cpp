// Handler of the contractor_verify foreign data wrapper.
#include "pg/core_first.h"
#include "pg/guard.h"

extern "C" {
#include "foreign/fdwapi.h"
#include "nodes/nodes.h"
#include "utils/errcodes.h"
}

namespace {

void refuse_foreign_table_scan(PlannerInfo*, RelOptInfo*, Oid) {
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("foreign tables of contractor_verify cannot be scanned in this version"),
             errhint("Call cv_verify() or cv_verify_batch() with the server instead.")));
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(contractor_verify_fdw_handler);
Datum contractor_verify_fdw_handler(PG_FUNCTION_ARGS);
}

Datum contractor_verify_fdw_handler(PG_FUNCTION_ARGS) {
    FdwRoutine* routine = makeNode(FdwRoutine);
    routine->GetForeignRelSize = refuse_foreign_table_scan;
    PG_RETURN_POINTER(routine);
}
