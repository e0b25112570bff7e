#pragma once

#include "pg/pg_headers.h"

extern "C" {
#include "access/tupdesc.h"
#include "utils/tuplestore.h"
}

namespace cv::pg {

// A set-returning function's result in materialize mode: rows go into a
// tuplestore in per-query memory, which spills to disk past work_mem.
struct MaterializedResult {
    Tuplestorestate* store = nullptr;
    TupleDesc desc = nullptr;
};

// Checks the caller accepts a materialized set and sets it up; throws a clear
// error otherwise.
MaterializedResult begin_materialized(FunctionCallInfo fcinfo);

}  // namespace cv::pg
