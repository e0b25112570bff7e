#include "core/error.h"
#include "core/freshness.h"
#include "core/observation.h"
#include "core/options.h"
#include "core/quota.h"

#include <nlohmann/json.hpp>

#include "pg/storage.h"
#include "pg/guard.h"
#include "pg/spi.h"
#include "pg/spool.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace cv::pg {

namespace {

constexpr const char* kFreshSql =
    "SELECT f.ord, f.result FROM contractor_verify.fresh_results($1, $2, $3, $4) AS f";
constexpr const char* kRecordSql =
    "SELECT r FROM contractor_verify.record_observations($1, $2, $3::jsonb, $4) AS r";

constexpr const char* kQuotaSql = "SELECT contractor_verify.lookups_this_month($1)";

SPIPlanPtr fresh_plan = nullptr;
SPIPlanPtr quota_plan = nullptr;
SPIPlanPtr record_plan = nullptr;

}  // namespace

Oid Storage::table_owner() {
    Oid owner = InvalidOid;
    pg_call([&] {
        const Oid nsp = get_namespace_oid("contractor_verify", false);
        const Oid rel = get_relname_relid("license_cache", nsp);
        if (!OidIsValid(rel))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                            errmsg("contractor_verify.license_cache does not exist"),
                            errhint("Reinstall the extension: DROP EXTENSION contractor_verify; "
                                    "CREATE EXTENSION contractor_verify;")));
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
    });
    return owner;
}

Storage::Storage(const ServerContext& ctx) : ctx_(ctx) {
    owner_ = Storage::table_owner();
    const char* role = nullptr;
    pg_call([&] { role = GetUserNameFromId(GetUserId(), false); });
    role_ = role;
}

std::vector<std::pair<std::size_t, Datum>> Storage::fresh(const std::vector<CacheKey>& keys,
                                                          std::optional<Datum> max_age) {
    std::vector<std::pair<std::size_t, Datum>> hits;
    if (keys.empty()) return hits;
    std::vector<const std::string*> states, licenses, ids;
    for (const auto& k : keys) {
        states.push_back(&k.state);
        licenses.push_back(&k.license_number);
        ids.push_back(&k.id);
    }
    with_spi(owner_, [&] {
        Oid types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INTERVALOID};
        SPIPlanPtr plan = kept_plan(fresh_plan, kFreshSql, 4, types);
        Datum values[4] = {text_array(states), text_array(licenses), text_array(ids),
                           max_age.value_or(0)};
        const char nulls[4] = {' ', ' ', ' ', max_age ? ' ' : 'n'};
        for (const auto& row : run_rows(plan, values, nulls, {true, false})) {
            const auto ord = static_cast<std::size_t>(DatumGetInt64(row[0]));  // 1-based
            if (ord >= 1 && ord <= keys.size() && row[1] != 0) hits.emplace_back(ord - 1, row[1]);
        }
    });
    return hits;
}

void Storage::check_quota(std::int64_t needed) {
    if (ctx_.settings.monthly_lookup_quota <= 0 || needed <= 0) return;
    std::int64_t used = 0;
    with_spi(owner_, [&] {
        Oid types[1] = {TEXTOID};
        SPIPlanPtr plan = kept_plan(quota_plan, kQuotaSql, 1, types);
        Datum values[1] = {text_datum(ctx_.server_name)};
        auto rows = run_rows(plan, values, nullptr, {true});
        if (!rows.empty()) used = DatumGetInt64(rows.front()[0]);
    });
    core::check_monthly_quota(ctx_.settings.monthly_lookup_quota, used, needed, ctx_.server_name);
}

void Storage::ensure_writable() {
    if (XactReadOnly)
        throw core::Error(core::ErrorKind::ReadOnly,
                          "cannot verify licenses in a read-only transaction",
                          "Answers from the API are stored in the extension's tables; run the "
                          "lookup in a read-write transaction on the primary. Fresh cache entries "
                          "can still be read.");
}

std::string Storage::spooled_document(const std::vector<core::Observation>& observations) const {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& o : observations) doc.push_back(o.to_json());
    std::string text = doc.dump();
    spool_append(ctx_.server_name, role_, text);
    return text;
}

void Storage::recording_params(const std::string& document, Oid types[4], Datum values[4]) const {
    types[0] = TEXTOID;
    types[1] = NAMEOID;
    types[2] = TEXTOID;
    types[3] = INT4OID;
    values[0] = text_datum(ctx_.server_name);
    values[1] = pg_value([&] { return DirectFunctionCall1(namein, CStringGetDatum(role_.c_str())); });
    values[2] = text_datum(document);
    values[3] = Int32GetDatum(core::kTimeoutsBeforeReview);
}

std::vector<Datum> Storage::record(const std::vector<core::Observation>& observations) {
    const std::string document = spooled_document(observations);
    std::vector<Datum> rows;
    with_spi(owner_, [&] {
        Oid types[4];
        Datum values[4];
        recording_params(document, types, values);
        SPIPlanPtr plan = kept_plan(record_plan, kRecordSql, 4, types);
        for (const auto& row : run_rows(plan, values, nullptr, {false})) rows.push_back(row[0]);
    });
    return rows;
}

}  // namespace cv::pg
