// Entry points that only released versions' SQL objects name. A database
// still on such a version (the library was updated, ALTER EXTENSION ...
// UPDATE not run yet) gets a clear error instead of a missing symbol, and
// the released install script can still be run (the upgrade test does).
#include "pg/core_first.h"
#include "core/error.h"

#include <string>

#include "pg/guard.h"

extern "C" {
PG_FUNCTION_INFO_V1(cv_normalize_input);
Datum cv_normalize_input(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_recover_answers);
Datum cv_recover_answers(PG_FUNCTION_ARGS);
}

namespace {

[[noreturn]] void run_update(const char* function) {
    throw cv::core::Error(cv::core::ErrorKind::MissingConfig,
                          std::string(function) + " belongs to version 0.1.0 of the extension",
                          "Run ALTER EXTENSION contractor_verify UPDATE;");
}

}  // namespace

Datum cv_recover_answers(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&]() -> Datum { run_update("contractor_verify.recover_answers()"); });
}

Datum cv_normalize_input(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&]() -> Datum { run_update("contractor_verify.normalize_input()"); });
}
