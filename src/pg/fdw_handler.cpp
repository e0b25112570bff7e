// Handler of the contractor_verify foreign data wrapper: foreign tables of
// licenses, looked up by the keys their quals name (fdw_plan, fdw_scan),
// batched when joined (fdw_join), created by IMPORT FOREIGN SCHEMA (fdw_import).
#include "pg/core_first.h"

#include "pg/fdw_import.h"
#include "pg/fdw_plan.h"
#include "pg/fdw_scan.h"
#include "pg/guard.h"

extern "C" {
#include "foreign/fdwapi.h"
#include "nodes/nodes.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(contractor_verify_fdw_handler);
Datum contractor_verify_fdw_handler(PG_FUNCTION_ARGS);
}

Datum contractor_verify_fdw_handler(PG_FUNCTION_ARGS) {
    FdwRoutine* routine = makeNode(FdwRoutine);
    routine->GetForeignRelSize = cv::pg::fdw_get_rel_size;
    routine->GetForeignPaths = cv::pg::fdw_get_paths;
    routine->GetForeignPlan = cv::pg::fdw_get_plan;
    routine->BeginForeignScan = cv::pg::fdw_begin_scan;
    routine->IterateForeignScan = cv::pg::fdw_iterate;
    routine->ReScanForeignScan = cv::pg::fdw_rescan;
    routine->EndForeignScan = cv::pg::fdw_end_scan;
    routine->ExplainForeignScan = cv::pg::fdw_explain_scan;
    routine->ImportForeignSchema = cv::pg::fdw_import_schema;
    PG_RETURN_POINTER(routine);
}
