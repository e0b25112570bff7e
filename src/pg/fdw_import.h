#pragma once

#include "pg/pg_headers.h"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace cv::pg {

// IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER s INTO local: the
// foreign table "licenses", with every column of cv_result and lookup_name.
List* fdw_import_schema(ImportForeignSchemaStmt* stmt, Oid server);

}  // namespace cv::pg
