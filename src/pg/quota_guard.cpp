#include "pg/core_first.h"
#include "core/error.h"
#include "core/quota.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "pg/quota_guard.h"

#include "pg/guard.h"
#include "pg/rate_gate.h"
#include "pg/result_row.h"
#include "pg/shared_state.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
}

namespace cv::pg {

namespace {

// Lookups charged this calendar month (UTC) to a URL and key, as recorded.
constexpr const char* kUsedSql =
    "SELECT COALESCE(pg_catalog.sum(h.charged), 0)::pg_catalog.int8"
    " FROM contractor_verify.verification_history h"
    " WHERE h.charged OPERATOR(pg_catalog.>) 0 AND h.api_url OPERATOR(pg_catalog.=) $1"
    "   AND h.api_key_id OPERATOR(pg_catalog.=) $2"
    "   AND h.observed_at OPERATOR(pg_catalog.>=)"
    "       (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')";
SPIPlanPtr used_plan = nullptr;

std::int32_t current_month() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    return (utc.tm_year + 1900) * 12 + utc.tm_mon + 1;
}

}  // namespace

QuotaReservation::QuotaReservation(const ServerContext& ctx, const ExtensionCatalog& catalog)
    : ctx_(ctx), catalog_(catalog) {}

QuotaReservation::~QuotaReservation() {
    SharedState* s = shared_state();
    if (s == nullptr || reserved_ == 0) return;
    try {
        SharedLock lock(s);
        ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
        slot.quota_reserved = std::max<std::int64_t>(0, slot.quota_reserved - reserved_);
    } catch (...) {
        // Unreachable in practice (the slot exists while it holds a reservation).
    }
}

std::int64_t QuotaReservation::used_from_history() {
    std::int64_t used = 0;
    with_owner_spi(catalog_.owner, [&] {
        Oid types[2] = {TEXTOID, TEXTOID};
        SPIPlanPtr plan = kept_plan(used_plan, kUsedSql, 2, types);
        Datum values[2] = {utf8_text(ctx_.settings.url), utf8_text(ctx_.api_key_id)};
        auto rows = run_rows(plan, values, nullptr, {true});
        if (!rows.empty()) used = DatumGetInt64(rows.front()[0]);
    });
    return used;
}

ApiKeySlot& QuotaReservation::month_slot(SharedState* s, std::optional<SharedLock>& lock) {
    const std::int32_t month = current_month();
    bool loaded = false;
    {
        SharedLock probe(s);
        loaded = account_slot(s, ctx_, steady_now_ms()).quota_month == month;
    }
    const std::int64_t from_history = loaded ? 0 : used_from_history();
    lock.emplace(s);
    ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
    if (slot.quota_month != month) {
        slot.quota_month = month;
        slot.quota_used = from_history;
    }
    return slot;
}

void QuotaReservation::reserve(std::int64_t needed) {
    const std::int64_t quota = ctx_.settings.monthly_lookup_quota;
    SharedState* s = shared_state();
    if (s == nullptr) {
        // Without shared memory: what the history says, for this statement alone.
        if (quota > 0 && needed > 0)
            core::check_monthly_quota(quota, used_from_history(), needed, ctx_.server_name);
        return;
    }
    std::optional<SharedLock> lock;
    ApiKeySlot& slot = month_slot(s, lock);
    if (quota > 0 && needed > 0)
        core::check_monthly_quota(quota, slot.quota_used + slot.quota_reserved, needed, ctx_.server_name);
    slot.quota_reserved += needed;
    reserved_ += needed;
}

std::int64_t QuotaReservation::spent() {
    SharedState* s = shared_state();
    if (s == nullptr) return used_from_history();
    std::optional<SharedLock> lock;
    ApiKeySlot& slot = month_slot(s, lock);
    return slot.quota_used + slot.quota_reserved;
}

void QuotaReservation::charge(std::int64_t lookups) {
    SharedState* s = shared_state();
    if (s == nullptr || lookups <= 0) return;
    SharedLock lock(s);
    ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
    const std::int64_t from_reservation = std::min(lookups, reserved_);
    reserved_ -= from_reservation;
    slot.quota_reserved = std::max<std::int64_t>(0, slot.quota_reserved - from_reservation);
    if (slot.quota_month != 0) slot.quota_used += lookups;
}

}  // namespace cv::pg
