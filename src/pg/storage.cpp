#include "core/error.h"
#include "core/options.h"
#include "core/quota.h"
#include "core/cache_rules.h"
#include "core/batch_protocol.h"

#include <nlohmann/json.hpp>

#include "pg/storage.h"

#include "pg/guard.h"
#include "pg/spi.h"
#include "pg/spool.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

// Lookups the API has counted this calendar month (UTC) for a URL and key.
constexpr const char* kQuotaSql =
    "SELECT COALESCE(pg_catalog.sum(h.charged), 0)::pg_catalog.int8"
    " FROM contractor_verify.verification_history h"
    " WHERE h.charged OPERATOR(pg_catalog.>) 0 AND h.api_url OPERATOR(pg_catalog.=) $1"
    "   AND h.api_key_id OPERATOR(pg_catalog.=) $2"
    "   AND h.observed_at OPERATOR(pg_catalog.>=)"
    "       (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')";
SPIPlanPtr quota_plan = nullptr;

constexpr double kMaxAgeYears = 100;

}  // namespace

Storage::Storage(const ServerContext& ctx) : ctx_(ctx), catalog_(extension_catalog()) {
    target_.server_name = ctx.server_name;
    target_.role_name = ctx.role_name;
    target_.api_url = ctx.settings.url;
    target_.api_key_id = ctx.api_key_id;
    // Answers of transactions that did not commit come back before anything
    // reads the cache.
    if (!XactReadOnly) spool_recover(catalog_);
    reader_ = std::make_unique<CacheReader>(catalog_);
}

void Storage::check_quota(std::int64_t needed) {
    if (ctx_.settings.monthly_lookup_quota <= 0 || needed <= 0) return;
    std::int64_t used = 0;
    with_owner_spi(catalog_.owner, [&] {
        Oid types[2] = {TEXTOID, TEXTOID};
        SPIPlanPtr plan = kept_plan(quota_plan, kQuotaSql, 2, types);
        Datum values[2] = {utf8_text(target_.api_url), utf8_text(target_.api_key_id)};
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

void Storage::record(std::vector<core::Observation> observations, ResultBuilder& results,
                     const std::function<void(const core::Observation&, Datum)>& on_result) {
    // Kept on disk first, so a transaction that does not commit loses nothing.
    nlohmann::json doc = {{"server_name", target_.server_name},
                          {"role_name", target_.role_name},
                          {"api_url", target_.api_url},
                          {"api_key_id", target_.api_key_id}};
    nlohmann::json list = nlohmann::json::array();
    for (const auto& o : observations) list.push_back(o.to_json());
    doc["observations"] = std::move(list);
    spool_append(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));

    reader_->refresh();
    ChunkRecording recording(*reader_, target_.api_url, std::move(observations));
    const auto& recorded = recording.observations();
    for (std::size_t i = 0; i < recorded.size(); ++i) {
        if (recorded[i].attempt_only) continue;
        on_result(recorded[i], results.answered(recorded[i], recording.update_of(i), recording.before_of(i)));
    }
    recording.write(catalog_, target_);
}

std::optional<std::int64_t> max_age_ms(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return std::nullopt;
    const Interval* iv = PG_GETARG_INTERVAL_P(n);
    const double micros = static_cast<double>(iv->time) +
                          static_cast<double>(iv->day) * USECS_PER_DAY +
                          static_cast<double>(iv->month) * DAYS_PER_MONTH * USECS_PER_DAY;
    if (micros < 0)
        throw core::Error(core::ErrorKind::InvalidParameter, "max_age must not be negative",
                          "Pass an interval such as '1 hour', 0 to always call the API, or NULL "
                          "for the server's cache TTLs.");
    if (micros > kMaxAgeYears * DAYS_PER_YEAR * USECS_PER_DAY)
        throw core::Error(core::ErrorKind::InvalidParameter, "max_age is too large",
                          "Pass at most '100 years', or NULL for the server's cache TTLs.");
    return static_cast<std::int64_t>(micros / 1000);
}

}  // namespace cv::pg
