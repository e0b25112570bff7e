// contractor_verify.canonical_url(url): the form of an API base URL the cache
// keys answers by.
#include "pg/core_first.h"
#include "core/error.h"
#include "core/url.h"
#include "core/cache_rules.h"
#include "core/batch_protocol.h"

#include <nlohmann/json.hpp>

#include <string>

#include "pg/result_row.h"
#include "pg/roster.h"
#include "pg/guard.h"

extern "C" {
#include "utils/builtins.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(cv_canonical_url);
Datum cv_canonical_url(PG_FUNCTION_ARGS);
}

Datum cv_canonical_url(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        const char* s = cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        return cv::pg::utf8_text(cv::core::canonical_api_url(cv::pg::to_utf8(s)));
    });
}
