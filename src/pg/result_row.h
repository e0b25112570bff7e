// cv_result rows, built in C from a cache row or an answer: the function's
// own result type (by OID, never by name), no SQL.
#pragma once

#include "core/cache_rules.h"
#include "core/observation.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "pg/cache_table.h"
#include "pg/jsonb_build.h"
#include "pg/pg_headers.h"

extern "C" {
#include "access/tupdesc.h"
}

namespace cv::pg {

// Columns of cv_result.
enum ResultColumn : int {
    kResId, kResState, kResLicenseNumber, kResLicenseStatus, kResLicenseType,
    kResClassifications, kResBusinessName, kResIssueDate, kResExpirationDate,
    kResBondAmountCents, kResInsuranceRequired, kResHasDisciplinaryActions,
    kResDisciplinaryActions, kResAddress, kResCompliant, kResErrorCode, kResErrorMessage,
    kResCandidates, kResVerifiedAt, kResFromCache, kResNeedsReview, kResNextAttemptAt,
    kResRecord, kResultColumnCount
};

class ResultBuilder {
public:
    // desc: the blessed descriptor of cv_result (checked to have its columns).
    explicit ResultBuilder(TupleDesc desc);

    // A lookup the cache answered (CacheVerdict::Fresh), or a STATE_TIMEOUT
    // whose retry is not due (TimeoutPending: error_code STATE_TIMEOUT).
    Datum cached(const CachedRow& row, core::CacheVerdict verdict);

    // An answer just recorded: `update` is what recording does to the row of
    // its license, `before` the row as it was (may be not found).
    // answer_raw: the jsonb of update.answer's raw record (when it replaces the row).
    Datum answered(const core::Observation& o, const core::CacheUpdate& update,
                   const CachedRow& before, Datum answer_raw);

    // A row with no answer: only the key and an error (INVALID_INPUT for a
    // roster row that could not be looked up).
    Datum error_row(const std::string& state, const std::string& license_number,
                    const std::string& code, const std::string& message);

    TupleDesc desc() const { return desc_; }

private:
    void clear();
    void row_data(const CachedRow& row);
    void answer_data(const core::Observation& o, const std::string& license_number, Datum raw);
    Datum form();

    TupleDesc desc_;
    Datum values_[kResultColumnCount];
    bool nulls_[kResultColumnCount];
};

// A cv_result Datum's columns (values point into the result's memory).
void deform_result(Datum result, TupleDesc desc, Datum* values, bool* nulls);

// A date Datum from a record's "YYYY-MM-DD" (validated by the core).
Datum date_datum(const std::string& iso);

// An interval Datum of a number of milliseconds.
Datum interval_datum(std::int64_t ms);

// A text Datum from UTF-8 (converted to the database encoding).
Datum utf8_text(const std::string& s);

}  // namespace cv::pg
