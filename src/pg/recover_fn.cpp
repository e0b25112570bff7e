// contractor_verify.recover_answers(): imports the spooled answers of
// transactions that did not commit (see pg/spool.h); lookups do it themselves.
#include "core/error.h"
#include "core/observation.h"
#include "core/options.h"

#include "pg/storage.h"
#include "pg/catalog.h"

#include "pg/guard.h"
#include "pg/spool.h"

extern "C" {
PG_FUNCTION_INFO_V1(cv_recover_answers);
Datum cv_recover_answers(PG_FUNCTION_ARGS);
}

Datum cv_recover_answers(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        cv::pg::Storage::ensure_writable();
        return Int64GetDatum(cv::pg::spool_recover(cv::pg::extension_catalog()));
    });
}
