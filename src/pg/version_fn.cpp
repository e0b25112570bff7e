// cv_version(): proves the library loads and reports what it links against.
#include "pg/core_first.h"
#include "core/version.h"

#include "pg/guard.h"

extern "C" {
#include "utils/builtins.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(cv_version);
Datum cv_version(PG_FUNCTION_ARGS);
}

Datum cv_version(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        const std::string text = cv::core::version_string();
        return cv::pg::pg_value([&] {
            return PointerGetDatum(
                cstring_to_text_with_len(text.data(), static_cast<int>(text.size())));
        });
    });
}
