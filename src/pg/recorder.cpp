#include "pg/core_first.h"
#include "core/error.h"
#include "core/freshness.h"

#include "pg/recorder.h"

#include "pg/guard.h"
#include "pg/jsonb_build.h"
#include "pg/result_row.h"
#include "pg/spi.h"
#include "pg/subtransaction.h"

extern "C" {
#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

using core::CacheUpdate;
using core::Observation;

const CachedRow kNoRow{};
const CacheUpdate kNoUpdate{};

// Every name below is schema-qualified and every statement runs with the
// pinned search_path, as the owner. The arrays are unnested side by side in
// a select list (one row per element, in lockstep), not in FROM, where each
// would be copied into a tuplestore of its own first.
constexpr const char* kHistorySql =
    "INSERT INTO contractor_verify.verification_history"
    " (observed_at, role_name, server_name, request_kind, caller_id, batch_id, state,"
    "  license_number, lookup_name, http_status, outcome, error_code, error_message,"
    "  license_status, billable, payload, api_url, api_key_id, charged)"
    " SELECT h.observed_at, $1, $2, h.request_kind, h.caller_id, h.batch_id, h.state,"
    "  h.license_number, h.lookup_name, h.http_status, h.outcome, h.error_code, h.error_message,"
    "  h.license_status, h.charged OPERATOR(pg_catalog.>) 0, h.payload, $3, $4, h.charged"
    " FROM (SELECT pg_catalog.unnest($5::pg_catalog.timestamptz[]) AS observed_at,"
    "  pg_catalog.unnest($6::pg_catalog.text[]) AS request_kind,"
    "  pg_catalog.unnest($7::pg_catalog.text[]) AS caller_id,"
    "  pg_catalog.unnest($8::pg_catalog.text[]) AS batch_id,"
    "  pg_catalog.unnest($9::pg_catalog.text[]) AS state,"
    "  pg_catalog.unnest($10::pg_catalog.text[]) AS license_number,"
    "  pg_catalog.unnest($11::pg_catalog.text[]) AS lookup_name,"
    "  pg_catalog.unnest($12::pg_catalog.int4[]) AS http_status,"
    "  pg_catalog.unnest($13::pg_catalog.text[]) AS outcome,"
    "  pg_catalog.unnest($14::pg_catalog.text[]) AS error_code,"
    "  pg_catalog.unnest($15::pg_catalog.text[]) AS error_message,"
    "  pg_catalog.unnest($16::pg_catalog.text[]) AS license_status,"
    "  pg_catalog.unnest($17::pg_catalog.jsonb[]) AS payload,"
    "  pg_catalog.unnest($18::pg_catalog.int4[]) AS charged) AS h";

// A row becomes an answer: every column is set. Each row's classifications
// are the slice [classes_from:classes_to] of all the rows' in $30 (NULL
// without a record; an empty slice for none). Inserted as such where no row
// is expected (kInsertSql), upserted otherwise (kReplaceSql).
#define CV_ANSWER_ROWS_SQL \
    "INSERT INTO contractor_verify.license_cache AS c" \
    " (api_url, server_name, state, license_number, outcome, license_status, license_type," \
    "  classifications, business_name, issue_date, expiration_date, bond_amount_cents," \
    "  insurance_required, has_disciplinary_actions, disciplinary_actions, address, error_code," \
    "  error_message, record, fetched_at, expires_at, last_attempt_at, last_error_code," \
    "  last_error_message, consecutive_timeouts, next_attempt_at, needs_review, review_reason)" \
    " SELECT $1, $2, r.state, r.license_number, r.outcome, r.license_status, r.license_type," \
    "  CASE WHEN r.classes_from IS NULL THEN NULL" \
    "       ELSE ($30::pg_catalog.text[])[r.classes_from:r.classes_to] END," \
    "  r.business_name, r.issue_date, r.expiration_date, r.bond_amount_cents," \
    "  r.insurance_required, r.has_disciplinary_actions, r.disciplinary_actions, r.address," \
    "  r.error_code, r.error_message, r.record, r.fetched_at, r.expires_at, r.last_attempt_at," \
    "  r.last_error_code, r.last_error_message, r.consecutive_timeouts, r.next_attempt_at," \
    "  r.needs_review, r.review_reason" \
    " FROM (SELECT pg_catalog.unnest($3::pg_catalog.text[]) AS state," \
    "  pg_catalog.unnest($4::pg_catalog.text[]) AS license_number," \
    "  pg_catalog.unnest($5::pg_catalog.text[]) AS outcome," \
    "  pg_catalog.unnest($6::pg_catalog.text[]) AS license_status," \
    "  pg_catalog.unnest($7::pg_catalog.text[]) AS license_type," \
    "  pg_catalog.unnest($8::pg_catalog.int4[]) AS classes_from," \
    "  pg_catalog.unnest($9::pg_catalog.text[]) AS business_name," \
    "  pg_catalog.unnest($10::pg_catalog.date[]) AS issue_date," \
    "  pg_catalog.unnest($11::pg_catalog.date[]) AS expiration_date," \
    "  pg_catalog.unnest($12::pg_catalog.int8[]) AS bond_amount_cents," \
    "  pg_catalog.unnest($13::pg_catalog.bool[]) AS insurance_required," \
    "  pg_catalog.unnest($14::pg_catalog.bool[]) AS has_disciplinary_actions," \
    "  pg_catalog.unnest($15::pg_catalog.jsonb[]) AS disciplinary_actions," \
    "  pg_catalog.unnest($16::pg_catalog.jsonb[]) AS address," \
    "  pg_catalog.unnest($17::pg_catalog.text[]) AS error_code," \
    "  pg_catalog.unnest($18::pg_catalog.text[]) AS error_message," \
    "  pg_catalog.unnest($19::pg_catalog.jsonb[]) AS record," \
    "  pg_catalog.unnest($20::pg_catalog.timestamptz[]) AS fetched_at," \
    "  pg_catalog.unnest($21::pg_catalog.timestamptz[]) AS expires_at," \
    "  pg_catalog.unnest($22::pg_catalog.timestamptz[]) AS last_attempt_at," \
    "  pg_catalog.unnest($23::pg_catalog.text[]) AS last_error_code," \
    "  pg_catalog.unnest($24::pg_catalog.text[]) AS last_error_message," \
    "  pg_catalog.unnest($25::pg_catalog.int4[]) AS consecutive_timeouts," \
    "  pg_catalog.unnest($26::pg_catalog.timestamptz[]) AS next_attempt_at," \
    "  pg_catalog.unnest($27::pg_catalog.bool[]) AS needs_review," \
    "  pg_catalog.unnest($28::pg_catalog.text[]) AS review_reason," \
    "  pg_catalog.unnest($29::pg_catalog.int4[]) AS classes_to) AS r"

constexpr const char* kInsertSql = CV_ANSWER_ROWS_SQL;

constexpr const char* kReplaceSql =
    CV_ANSWER_ROWS_SQL
    " ON CONFLICT (api_url, state, license_number) DO UPDATE SET"
    "  server_name = EXCLUDED.server_name, outcome = EXCLUDED.outcome,"
    "  license_status = EXCLUDED.license_status, license_type = EXCLUDED.license_type,"
    "  classifications = EXCLUDED.classifications, business_name = EXCLUDED.business_name,"
    "  issue_date = EXCLUDED.issue_date, expiration_date = EXCLUDED.expiration_date,"
    "  bond_amount_cents = EXCLUDED.bond_amount_cents,"
    "  insurance_required = EXCLUDED.insurance_required,"
    "  has_disciplinary_actions = EXCLUDED.has_disciplinary_actions,"
    "  disciplinary_actions = EXCLUDED.disciplinary_actions, address = EXCLUDED.address,"
    "  error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,"
    "  record = EXCLUDED.record, fetched_at = EXCLUDED.fetched_at,"
    "  expires_at = EXCLUDED.expires_at, last_attempt_at = EXCLUDED.last_attempt_at,"
    "  last_error_code = EXCLUDED.last_error_code,"
    "  last_error_message = EXCLUDED.last_error_message,"
    "  consecutive_timeouts = EXCLUDED.consecutive_timeouts,"
    "  next_attempt_at = EXCLUDED.next_attempt_at, needs_review = EXCLUDED.needs_review,"
    "  review_reason = EXCLUDED.review_reason"
    // A row holding a newer answer (recorded meanwhile) stays.
    " WHERE c.fetched_at IS NULL OR c.fetched_at OPERATOR(pg_catalog.<=) EXCLUDED.fetched_at";

// The row keeps its answer; only the attempt columns change (a bare row when
// there is none yet: a first STATE_TIMEOUT).
constexpr const char* kNoteSql =
    "INSERT INTO contractor_verify.license_cache AS c"
    " (api_url, server_name, state, license_number, last_attempt_at, last_error_code,"
    "  last_error_message, consecutive_timeouts, next_attempt_at, needs_review, review_reason)"
    " SELECT $1, $2, n.state, n.license_number, n.last_attempt_at, n.last_error_code,"
    "  n.last_error_message, n.consecutive_timeouts, n.next_attempt_at, n.needs_review,"
    "  n.review_reason"
    " FROM (SELECT pg_catalog.unnest($3::pg_catalog.text[]) AS state,"
    "  pg_catalog.unnest($4::pg_catalog.text[]) AS license_number,"
    "  pg_catalog.unnest($5::pg_catalog.timestamptz[]) AS last_attempt_at,"
    "  pg_catalog.unnest($6::pg_catalog.text[]) AS last_error_code,"
    "  pg_catalog.unnest($7::pg_catalog.text[]) AS last_error_message,"
    "  pg_catalog.unnest($8::pg_catalog.int4[]) AS consecutive_timeouts,"
    "  pg_catalog.unnest($9::pg_catalog.timestamptz[]) AS next_attempt_at,"
    "  pg_catalog.unnest($10::pg_catalog.bool[]) AS needs_review,"
    "  pg_catalog.unnest($11::pg_catalog.text[]) AS review_reason) AS n"
    " ON CONFLICT (api_url, state, license_number) DO UPDATE SET"
    "  last_attempt_at = EXCLUDED.last_attempt_at, last_error_code = EXCLUDED.last_error_code,"
    "  last_error_message = EXCLUDED.last_error_message,"
    "  consecutive_timeouts = EXCLUDED.consecutive_timeouts,"
    "  next_attempt_at = EXCLUDED.next_attempt_at, needs_review = EXCLUDED.needs_review,"
    "  review_reason = EXCLUDED.review_reason";

SPIPlanPtr history_plan = nullptr;
SPIPlanPtr insert_plan = nullptr;
SPIPlanPtr replace_plan = nullptr;
SPIPlanPtr note_plan = nullptr;

Datum ts(std::int64_t ms) { return TimestampTzGetDatum(unix_ms_to_timestamptz(ms)); }

void push_ts(ArrayBuilder& a, const std::optional<std::int64_t>& ms) {
    if (ms)
        a.push(ts(*ms));
    else
        a.push_null();
}

// The attempt-state columns both cache writes end with.
struct AttemptColumns {
    ArrayBuilder last{TIMESTAMPTZOID}, code{TEXTOID}, message{TEXTOID}, timeouts{INT4OID},
        next{TIMESTAMPTZOID}, review{BOOLOID}, reason{TEXTOID};

    void push(const core::AttemptState& a) {
        push_ts(last, a.last_attempt_at_ms);
        code.push_text(a.last_error_code);
        message.push_text(a.last_error_message);
        timeouts.push(Int32GetDatum(a.consecutive_timeouts));
        push_ts(next, a.next_attempt_at_ms);
        review.push(BoolGetDatum(a.needs_review));
        reason.push_text(a.review_reason);
    }

    // Appends the columns' array types and values to a statement's parameters.
    void append_to(std::vector<Oid>& types, std::vector<Datum>& values) const {
        types.insert(types.end(), {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
                                   TIMESTAMPTZARRAYOID, BOOLARRAYOID, TEXTARRAYOID});
        values.insert(values.end(), {last.datum(), code.datum(), message.datum(), timeouts.datum(),
                                     next.datum(), review.datum(), reason.datum()});
    }
};

void run(SPIPlanPtr& slot, const char* sql, std::vector<Oid> types, std::vector<Datum> values) {
    SPIPlanPtr plan = kept_plan(slot, sql, static_cast<int>(types.size()), types.data());
    pg_call([&] {
        const int rc = SPI_execute_plan(plan, values.data(), nullptr, false, 0);
        if (rc != SPI_OK_INSERT)
            elog(ERROR, "contractor_verify: recording failed: %s", SPI_result_code_string(rc));
    });
}

}  // namespace

ChunkRecording::ChunkRecording(CacheReader& reader, const std::string& api_url,
                               const std::vector<Observation>& observations, std::vector<Datum> raw)
    : observations_(observations), raw_(std::move(raw)), group_of_(observations_.size(), nullptr) {
    if (raw_.size() != observations_.size()) {
        raw_.assign(observations_.size(), 0);
        for (std::size_t i = 0; i < observations_.size(); ++i)
            raw_[i] = raw_to_jsonb(observations_[i]);
    }
    for (std::size_t i = 0; i < observations_.size(); ++i) {
        const Observation& o = observations_[i];
        if (o.attempt_only) continue;
        auto number = core::cache_license_number(o);
        if (!number) continue;
        Group& g = groups_[{o.state, *number}];
        g.members.push_back(i);
        group_of_[i] = &g;
    }
    for (auto& [key, g] : groups_) {
        // A license answered only by verified records becomes that record
        // whatever its row held (the write keeps a newer row, see kReplaceSql):
        // no need to read the row first.
        bool all_verified = true;
        for (std::size_t i : g.members)
            all_verified = all_verified && observations_[i].verified() && observations_[i].record;
        if (all_verified)
            g.before.found = false;
        else
            reader.probe(api_url, key.first, key.second, g.before);
        std::vector<const Observation*> in_order;
        for (std::size_t i : g.members) in_order.push_back(&observations_[i]);
        g.update = core::fold_observations(g.before.head(), in_order, core::kTimeoutsBeforeReview);
    }
}

const CacheUpdate& ChunkRecording::update_of(std::size_t i) const {
    return group_of_[i] != nullptr ? group_of_[i]->update : kNoUpdate;
}

Datum ChunkRecording::answer_raw(const CacheUpdate& u) const {
    if (u.answer == nullptr) return 0;
    return raw_[static_cast<std::size_t>(u.answer - observations_.data())];
}

const CachedRow& ChunkRecording::before_of(std::size_t i) const {
    return group_of_[i] != nullptr ? group_of_[i]->before : kNoRow;
}

void ChunkRecording::write(const ExtensionCatalog& catalog, const RecordingTarget& target,
                           RowsSeen seen) const {
    // History: every observation, attempts included.
    ArrayBuilder observed(TIMESTAMPTZOID), kind(TEXTOID), caller(TEXTOID), batch(TEXTOID),
        state(TEXTOID), number(TEXTOID), name(TEXTOID), http(INT4OID), outcome(TEXTOID),
        code(TEXTOID), message(TEXTOID), status(TEXTOID), payload(JSONBOID), charged(INT4OID);
    for (std::size_t i = 0; i < observations_.size(); ++i) {
        const Observation& o = observations_[i];
        observed.push(ts(o.observed_at_ms));
        kind.push_text(o.request_kind);
        caller.push_text(o.id);
        batch.push_text(o.batch_id);
        state.push_text(o.state);
        const auto key = o.attempt_only ? std::optional<std::string>(o.license_number)
                                        : core::cache_license_number(o);
        number.push_text(key.value_or(""));
        name.push_text(o.name);
        if (o.http_status != 0)
            http.push(Int32GetDatum(o.http_status));
        else
            http.push_null();
        outcome.push_text(o.outcome);
        code.push_text(o.verified() ? "" : o.outcome);
        message.push_text(o.error_message);
        status.push_text(o.record ? o.record->license_status : "");
        if (raw_[i] == 0)
            payload.push_null();
        else
            payload.push(raw_[i]);
        charged.push(Int32GetDatum(o.charged()));
    }

    // Cache: one row per license, in key order (groups_ is ordered).
    ArrayBuilder r_state(TEXTOID), r_number(TEXTOID), r_outcome(TEXTOID), r_status(TEXTOID),
        r_type(TEXTOID), r_classes_from(INT4OID), r_business(TEXTOID), r_issue(DATEOID),
        r_expiration(DATEOID), r_bond(INT8OID), r_insurance(BOOLOID), r_has_disc(BOOLOID),
        r_disc(JSONBOID), r_address(JSONBOID), r_code(TEXTOID), r_message(TEXTOID),
        r_record(JSONBOID), r_fetched(TIMESTAMPTZOID), r_expires(TIMESTAMPTZOID),
        r_classes_to(INT4OID), classes(TEXTOID);
    std::size_t classes_count = 0;
    AttemptColumns r_attempt;
    ArrayBuilder n_state(TEXTOID), n_number(TEXTOID);
    AttemptColumns n_attempt;
    int replaced = 0, noted = 0;
    for (const auto& [key, g] : groups_) {
        const CacheUpdate& u = g.update;
        if (u.kind == CacheUpdate::Kind::Replace) {
            ++replaced;
            const Observation& o = *u.answer;
            r_state.push_text(key.first);
            r_number.push_text(key.second);
            r_outcome.push_text(o.outcome);
            const core::LicenseRecord* rec = o.verified() && o.record ? &*o.record : nullptr;
            r_status.push_text(rec ? rec->license_status : "");
            r_type.push_text_or_null(rec && rec->license_type ? &*rec->license_type : nullptr);
            if (rec) {
                r_classes_from.push(Int32GetDatum(static_cast<std::int32_t>(classes_count + 1)));
                for (const std::string& c : rec->classifications) classes.push(utf8_text(c));
                classes_count += rec->classifications.size();
                r_classes_to.push(Int32GetDatum(static_cast<std::int32_t>(classes_count)));
            } else {
                r_classes_from.push_null();
                r_classes_to.push_null();
            }
            r_business.push_text_or_null(rec && rec->business_name ? &*rec->business_name : nullptr);
            for (auto [builder, value] : {std::pair{&r_issue, rec ? rec->issue_date : std::nullopt},
                                          std::pair{&r_expiration, rec ? rec->expiration_date : std::nullopt}}) {
                if (value)
                    builder->push(date_datum(*value));
                else
                    builder->push_null();
            }
            if (rec && rec->bond_amount_cents)
                r_bond.push(Int64GetDatum(*rec->bond_amount_cents));
            else
                r_bond.push_null();
            if (rec && rec->insurance_required)
                r_insurance.push(BoolGetDatum(*rec->insurance_required));
            else
                r_insurance.push_null();
            const Datum raw = answer_raw(u);
            if (rec) {
                r_has_disc.push(BoolGetDatum(rec->has_disciplinary_actions()));
                const Datum actions = raw != 0 ? jsonb_member(raw, "disciplinary_actions", JsonKind::Array) : 0;
                r_disc.push(actions != 0 ? actions : json_to_jsonb(rec->disciplinary_actions));
            } else {
                r_has_disc.push_null();
                r_disc.push_null();
            }
            const Datum address = rec && raw != 0 ? jsonb_member(raw, "address", JsonKind::Object) : 0;
            if (address != 0)
                r_address.push(address);
            else if (rec && rec->address.is_object())
                r_address.push(json_to_jsonb(rec->address));
            else
                r_address.push_null();
            r_code.push_text(o.verified() ? "" : o.outcome);
            r_message.push_text(o.verified() ? "" : o.error_message);
            if (raw == 0)
                r_record.push_null();
            else
                r_record.push(raw);
            push_ts(r_fetched, u.after.fetched_at_ms);
            push_ts(r_expires, u.after.expires_at_ms);
            r_attempt.push(u.attempt);
        } else if (u.kind == CacheUpdate::Kind::NoteAttempt) {
            ++noted;
            n_state.push_text(key.first);
            n_number.push_text(key.second);
            n_attempt.push(u.attempt);
        }
    }

    const Datum server = utf8_text(target.server_name);
    const Datum url = utf8_text(target.api_url);
    const Datum role = pg_value([&] {
        return DirectFunctionCall1(namein, CStringGetDatum(target.role_name.c_str()));
    });
    const Datum key_id = utf8_text(target.api_key_id);
    with_owner_spi(catalog.owner, [&] {
        if (!observations_.empty()) {
            run(history_plan, kHistorySql,
                {NAMEOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
                 TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
                 TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT4ARRAYOID},
                {role, server, url, key_id, observed.datum(), kind.datum(), caller.datum(),
                 batch.datum(), state.datum(), number.datum(), name.datum(), http.datum(),
                 outcome.datum(), code.datum(), message.datum(), status.datum(), payload.datum(),
                 charged.datum()});
        }
        if (replaced > 0) {
            std::vector<Oid> types = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
                                      TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
                                      DATEARRAYOID, DATEARRAYOID, INT8ARRAYOID, BOOLARRAYOID,
                                      BOOLARRAYOID, JSONBARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
                                      TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZARRAYOID,
                                      TIMESTAMPTZARRAYOID};
            std::vector<Datum> values = {url, server, r_state.datum(), r_number.datum(), r_outcome.datum(),
                                         r_status.datum(), r_type.datum(), r_classes_from.datum(),
                                         r_business.datum(), r_issue.datum(), r_expiration.datum(),
                                         r_bond.datum(), r_insurance.datum(), r_has_disc.datum(),
                                         r_disc.datum(), r_address.datum(), r_code.datum(),
                                         r_message.datum(), r_record.datum(), r_fetched.datum(),
                                         r_expires.datum()};
            r_attempt.append_to(types, values);
            types.insert(types.end(), {INT4ARRAYOID, TEXTARRAYOID});
            values.insert(values.end(), {r_classes_to.datum(), classes.datum()});
            // Rows none expects are inserted, which spares the upsert's look
            // for a conflict and its speculative insertion. If one was
            // recorded meanwhile after all, the insert is undone and the
            // upsert runs.
            const bool inserted = seen == RowsSeen::None && succeeds_unless(ERRCODE_UNIQUE_VIOLATION, [&] {
                run(insert_plan, kInsertSql, types, values);
            });
            if (!inserted) run(replace_plan, kReplaceSql, std::move(types), std::move(values));
        }
        if (noted > 0) {
            std::vector<Oid> types = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
            std::vector<Datum> values = {url, server, n_state.datum(), n_number.datum()};
            n_attempt.append_to(types, values);
            run(note_plan, kNoteSql, std::move(types), std::move(values));
        }
        // Later reads in this transaction (the next chunk's) see these rows.
        pg_call([] { CommandCounterIncrement(); });
    });
}

}  // namespace cv::pg
