// contractor_verify.normalize_input(state, license_number, name): one roster
// row normalized, for the batch's dedup key. Called once per row.
#include "core/normalize.h"

#include <optional>
#include <string>

#include "pg/guard.h"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
}

namespace {

std::optional<std::string> text_or_null(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return std::nullopt;
    const char* s = cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
    return std::string(s);
}

TupleDesc result_desc(FunctionCallInfo fcinfo) {
    // Built once per call site.
    if (fcinfo->flinfo->fn_extra == nullptr) {
        cv::pg::pg_call([&] {
            TupleDesc desc = nullptr;
            if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
                elog(ERROR, "contractor_verify: return type must be a row type");
            MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
            fcinfo->flinfo->fn_extra = BlessTupleDesc(CreateTupleDescCopy(desc));
            MemoryContextSwitchTo(old);
        });
    }
    return static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_normalize_input);
Datum cv_normalize_input(PG_FUNCTION_ARGS);
}

Datum cv_normalize_input(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        const cv::core::NormalizedInput n =
            cv::core::normalize_input(text_or_null(fcinfo, 0), text_or_null(fcinfo, 1),
                                      text_or_null(fcinfo, 2));
        TupleDesc desc = result_desc(fcinfo);
        const bool ok = n.error.empty();
        return cv::pg::pg_value([&] {
            Datum values[5];
            bool nulls[5] = {false, false, false, false, false};
            const std::string* fields[4] = {&n.state, &n.license_number, &n.name, &n.key};
            for (int i = 0; i < 4; ++i) {
                nulls[i] = fields[i]->empty();
                values[i] = nulls[i] ? 0 : PointerGetDatum(cstring_to_text_with_len(
                                                 fields[i]->data(), static_cast<int>(fields[i]->size())));
            }
            nulls[4] = ok;
            values[4] = ok ? 0 : CStringGetTextDatum(n.error.c_str());
            return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
        });
    });
}
