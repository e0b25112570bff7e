#include "pg/core_first.h"
#include "core/error.h"

#include "pg/result_row.h"

#include <cstring>

#include "pg/guard.h"
#include "pg/jsonb_build.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

using core::Observation;

constexpr Oid kResultTypes[kResultColumnCount] = {
    TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, DATEOID, DATEOID,
    INT8OID, BOOLOID, BOOLOID, JSONBOID, JSONBOID, BOOLOID, TEXTOID, TEXTOID, JSONBOID,
    TIMESTAMPTZOID, BOOLOID, BOOLOID, TIMESTAMPTZOID, JSONBOID};

bool compliant(bool status_null, Datum status, bool exp_null, Datum expiration) {
    if (status_null) return false;
    text* t = DatumGetTextPP(status);
    if (VARSIZE_ANY_EXHDR(t) != 6 || std::memcmp(VARDATA_ANY(t), "ACTIVE", 6) != 0) return false;
    return exp_null || DatumGetDateADT(expiration) >= GetSQLCurrentDate();
}

}  // namespace

Datum date_datum(const std::string& iso) {
    const int y = std::atoi(iso.substr(0, 4).c_str());
    const int m = std::atoi(iso.substr(5, 2).c_str());
    const int d = std::atoi(iso.substr(8, 2).c_str());
    return DateADTGetDatum(date2j(y, m, d) - POSTGRES_EPOCH_JDATE);
}

void deform_result(Datum result, TupleDesc desc, Datum* values, bool* nulls) {
    pg_call([&] {
        HeapTupleHeader header = DatumGetHeapTupleHeader(result);
        HeapTupleData tuple;
        tuple.t_len = HeapTupleHeaderGetDatumLength(header);
        ItemPointerSetInvalid(&tuple.t_self);
        tuple.t_tableOid = InvalidOid;
        tuple.t_data = header;
        heap_deform_tuple(&tuple, desc, values, nulls);
    });
}

Datum interval_datum(std::int64_t ms) {
    return pg_value([&] {
        // Whole days as days, so '7d' reads '7 days'.
        Interval* iv = static_cast<Interval*>(palloc0(sizeof(Interval)));
        constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
        iv->day = static_cast<int32>(ms / kDayMs);
        iv->time = (ms % kDayMs) * INT64CONST(1000);
        return IntervalPGetDatum(iv);
    });
}

Datum utf8_text(const std::string& s) {
    return pg_value([&] {
        char* converted = pg_any_to_server(s.c_str(), static_cast<int>(s.size()), PG_UTF8);
        return PointerGetDatum(converted == s.c_str()
                                   ? cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))
                                   : cstring_to_text(converted));
    });
}

ResultBuilder::ResultBuilder(TupleDesc desc) : desc_(desc) {
    bool ok = desc->natts == kResultColumnCount;
    for (int i = 0; ok && i < kResultColumnCount; ++i)
        ok = TupleDescAttr(desc, i)->atttypid == kResultTypes[i];
    if (!ok)
        throw core::Error(core::ErrorKind::MissingConfig,
                          "the type cv_result does not have the columns this library returns",
                          "Run ALTER EXTENSION contractor_verify UPDATE, or reinstall the extension.");
}

void ResultBuilder::clear() {
    for (int i = 0; i < kResultColumnCount; ++i) {
        values_[i] = 0;
        nulls_[i] = true;
    }
    values_[kResCompliant] = BoolGetDatum(false);
    nulls_[kResCompliant] = false;
    values_[kResFromCache] = BoolGetDatum(false);
    nulls_[kResFromCache] = false;
    values_[kResNeedsReview] = BoolGetDatum(false);
    nulls_[kResNeedsReview] = false;
}

void ResultBuilder::row_data(const CachedRow& row) {
    static constexpr std::pair<ResultColumn, CacheColumn> kCopied[] = {
        {kResState, kCacheState},
        {kResLicenseNumber, kCacheLicenseNumber},
        {kResLicenseStatus, kCacheLicenseStatus},
        {kResLicenseType, kCacheLicenseType},
        {kResClassifications, kCacheClassifications},
        {kResBusinessName, kCacheBusinessName},
        {kResIssueDate, kCacheIssueDate},
        {kResExpirationDate, kCacheExpirationDate},
        {kResBondAmountCents, kCacheBondAmountCents},
        {kResInsuranceRequired, kCacheInsuranceRequired},
        {kResHasDisciplinaryActions, kCacheHasDisciplinaryActions},
        {kResDisciplinaryActions, kCacheDisciplinaryActions},
        {kResAddress, kCacheAddress},
        {kResNextAttemptAt, kCacheNextAttemptAt},
        {kResRecord, kCacheRecord},
    };
    for (const auto& [r, c] : kCopied) {
        values_[r] = row.values[c];
        nulls_[r] = row.nulls[c];
    }
    values_[kResCompliant] = BoolGetDatum(compliant(
        row.nulls[kCacheLicenseStatus], row.values[kCacheLicenseStatus],
        row.nulls[kCacheExpirationDate], row.values[kCacheExpirationDate]));
    const bool answered = !row.nulls[kCacheOutcome];
    if (answered && !row.nulls[kCacheFetchedAt]) {
        values_[kResVerifiedAt] = row.values[kCacheFetchedAt];
        nulls_[kResVerifiedAt] = false;
    }
    values_[kResNeedsReview] =
        BoolGetDatum(!row.nulls[kCacheNeedsReview] && DatumGetBool(row.values[kCacheNeedsReview]));
}

void ResultBuilder::answer_data(const Observation& o, const std::string& license_number, Datum raw) {
    values_[kResState] = utf8_text(o.state);
    nulls_[kResState] = false;
    if (!license_number.empty()) {
        values_[kResLicenseNumber] = utf8_text(license_number);
        nulls_[kResLicenseNumber] = false;
    }
    if (raw != 0) {
        values_[kResRecord] = raw;
        nulls_[kResRecord] = false;
    }
    values_[kResVerifiedAt] = TimestampTzGetDatum(unix_ms_to_timestamptz(o.observed_at_ms));
    nulls_[kResVerifiedAt] = false;
    if (!o.verified() || !o.record) return;
    const core::LicenseRecord& r = *o.record;
    auto set_text = [&](ResultColumn c, const std::optional<std::string>& v) {
        if (!v) return;
        values_[c] = utf8_text(*v);
        nulls_[c] = false;
    };
    if (!r.license_status.empty()) set_text(kResLicenseStatus, r.license_status);
    set_text(kResLicenseType, r.license_type);
    set_text(kResBusinessName, r.business_name);
    std::vector<Datum> classes;
    for (const auto& c : r.classifications) classes.push_back(utf8_text(c));
    values_[kResClassifications] = pg_value([&] {
        return PointerGetDatum(construct_array(classes.data(), static_cast<int>(classes.size()),
                                               TEXTOID, -1, false, TYPALIGN_INT));
    });
    nulls_[kResClassifications] = false;
    if (r.issue_date) {
        values_[kResIssueDate] = date_datum(*r.issue_date);
        nulls_[kResIssueDate] = false;
    }
    if (r.expiration_date) {
        values_[kResExpirationDate] = date_datum(*r.expiration_date);
        nulls_[kResExpirationDate] = false;
    }
    if (r.bond_amount_cents) {
        values_[kResBondAmountCents] = Int64GetDatum(*r.bond_amount_cents);
        nulls_[kResBondAmountCents] = false;
    }
    if (r.insurance_required) {
        values_[kResInsuranceRequired] = BoolGetDatum(*r.insurance_required);
        nulls_[kResInsuranceRequired] = false;
    }
    values_[kResHasDisciplinaryActions] = BoolGetDatum(r.has_disciplinary_actions());
    nulls_[kResHasDisciplinaryActions] = false;
    // Read out of the record's jsonb: what the parser kept is what the API sent.
    const Datum actions = raw != 0 ? jsonb_member(raw, "disciplinary_actions", JsonKind::Array) : 0;
    values_[kResDisciplinaryActions] = actions != 0 ? actions : json_to_jsonb(r.disciplinary_actions);
    nulls_[kResDisciplinaryActions] = false;
    const Datum address = raw != 0 ? jsonb_member(raw, "address", JsonKind::Object) : 0;
    if (address != 0 || r.address.is_object()) {
        values_[kResAddress] = address != 0 ? address : json_to_jsonb(r.address);
        nulls_[kResAddress] = false;
    }
    const bool active = r.license_status == "ACTIVE";
    values_[kResCompliant] = BoolGetDatum(
        active && (!r.expiration_date ||
                   pg_value([&] { return DatumGetDateADT(values_[kResExpirationDate]) >= GetSQLCurrentDate(); })));
}

Datum ResultBuilder::form() {
    return pg_value([&] { return HeapTupleGetDatum(heap_form_tuple(desc_, values_, nulls_)); });
}

Datum ResultBuilder::cached(const CachedRow& row, core::CacheVerdict verdict) {
    clear();
    row_data(row);
    values_[kResFromCache] = BoolGetDatum(!row.nulls[kCacheOutcome]);
    if (verdict == core::CacheVerdict::TimeoutPending) {
        // Answered without a call: the timeout on record stands until its retry is due.
        values_[kResFromCache] = BoolGetDatum(true);
        values_[kResErrorCode] = utf8_text(core::outcome::kStateTimeout);
        nulls_[kResErrorCode] = false;
        values_[kResErrorMessage] = row.values[kCacheLastErrorMessage];
        nulls_[kResErrorMessage] = row.nulls[kCacheLastErrorMessage];
    } else {
        values_[kResErrorCode] = row.values[kCacheErrorCode];
        nulls_[kResErrorCode] = row.nulls[kCacheErrorCode];
        values_[kResErrorMessage] = row.values[kCacheErrorMessage];
        nulls_[kResErrorMessage] = row.nulls[kCacheErrorMessage];
        if (!row.nulls[kCacheErrorCode]) {
            const std::string code = row.str(kCacheErrorCode);
            if (code == core::outcome::kNotFound) values_[kResNeedsReview] = BoolGetDatum(true);
        }
    }
    return form();
}

Datum ResultBuilder::answered(const Observation& o, const core::CacheUpdate& u, const CachedRow& before,
                              Datum answer_raw) {
    clear();
    const bool replaced = u.kind == core::CacheUpdate::Kind::Replace && u.answer != nullptr;
    if (replaced) {
        answer_data(*u.answer, core::cache_license_number(*u.answer).value_or(o.license_number), answer_raw);
    } else if (before.found) {
        row_data(before);
        if (!u.after.answered()) nulls_[kResVerifiedAt] = true;
        values_[kResFromCache] = BoolGetDatum(core::result_from_cache(u.after, o));
    } else {
        values_[kResState] = utf8_text(o.state);
        nulls_[kResState] = false;
        const std::string number = core::cache_license_number(o).value_or(o.license_number);
        if (!number.empty()) {
            values_[kResLicenseNumber] = utf8_text(number);
            nulls_[kResLicenseNumber] = false;
        }
    }
    if (u.after.exists) {
        values_[kResNextAttemptAt] = u.after.attempt.next_attempt_at_ms
                                         ? TimestampTzGetDatum(unix_ms_to_timestamptz(*u.after.attempt.next_attempt_at_ms))
                                         : 0;
        nulls_[kResNextAttemptAt] = !u.after.attempt.next_attempt_at_ms;
        values_[kResNeedsReview] = BoolGetDatum(u.after.attempt.needs_review);
    }
    if (o.outcome == core::outcome::kNotFound) values_[kResNeedsReview] = BoolGetDatum(true);
    if (!o.verified()) {
        values_[kResErrorCode] = utf8_text(o.outcome);
        nulls_[kResErrorCode] = false;
        if (!o.error_message.empty()) {
            values_[kResErrorMessage] = utf8_text(o.error_message);
            nulls_[kResErrorMessage] = false;
        }
        if (!o.candidates.is_null()) {
            values_[kResCandidates] = json_to_jsonb(o.candidates);
            nulls_[kResCandidates] = false;
        }
    }
    return form();
}

Datum ResultBuilder::error_row(const std::string& state, const std::string& license_number,
                               const std::string& code, const std::string& message) {
    clear();
    if (!state.empty()) {
        values_[kResState] = utf8_text(state);
        nulls_[kResState] = false;
    }
    if (!license_number.empty()) {
        values_[kResLicenseNumber] = utf8_text(license_number);
        nulls_[kResLicenseNumber] = false;
    }
    values_[kResErrorCode] = utf8_text(code);
    nulls_[kResErrorCode] = false;
    values_[kResErrorMessage] = utf8_text(message);
    nulls_[kResErrorMessage] = false;
    return form();
}

}  // namespace cv::pg
