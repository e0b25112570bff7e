#include "pg/core_first.h"
#include "core/error.h"

#include "pg/guard.h"
#include "pg/srf.h"

extern "C" {
#include "funcapi.h"
#include "miscadmin.h"
}

namespace cv::pg {

MaterializedResult begin_materialized(FunctionCallInfo fcinfo) {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) ||
        (rsinfo->allowedModes & SFRM_Materialize) == 0)
        throw core::Error(core::ErrorKind::InvalidParameter,
                          "set-valued function called in a context that cannot accept a set",
                          "Call it in FROM: SELECT * FROM function(...).");
    MaterializedResult out;
    pg_call([&] {
        TupleDesc desc = nullptr;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "contractor_verify: return type must be a row type");
        MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
        out.desc = CreateTupleDescCopy(desc);
        out.store = tuplestore_begin_heap(true, false, work_mem);
        MemoryContextSwitchTo(old);
        rsinfo->returnMode = SFRM_Materialize;
        rsinfo->setResult = out.store;
        rsinfo->setDesc = out.desc;
    });
    return out;
}

}  // namespace cv::pg
