#include "pg/core_first.h"
#include "core/error.h"
#include "core/quota.h"

#include <algorithm>
#include <ctime>
#include <exception>

#include "pg/quota_guard.h"

#include "pg/guard.h"
#include "pg/quota_file.h"
#include "pg/rate_gate.h"
#include "pg/result_row.h"
#include "pg/shared_state.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/ipc.h"
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

// While a statement charges, the quota file is rewritten at most this often.
constexpr std::int64_t kSaveEveryMs = 1000;

std::int32_t current_month() { return core::utc_month(std::time(nullptr)); }

}  // namespace

QuotaReservation* QuotaReservation::live_ = nullptr;

QuotaReservation::QuotaReservation(const ServerContext& ctx, const ExtensionCatalog& catalog)
    : ctx_(ctx), catalog_(catalog) {
    if (shared_state() == nullptr) return;
    static bool registered = false;
    if (!registered) {
        pg_call([] { before_shmem_exit(release_live, 0); });
        registered = true;
    }
    next_ = live_;
    if (live_ != nullptr) live_->prev_ = this;
    live_ = this;
}

QuotaReservation::~QuotaReservation() {
    release();
    if (live_ == this) live_ = next_;
    if (prev_ != nullptr) prev_->next_ = next_;
    if (next_ != nullptr) next_->prev_ = prev_;
}

void QuotaReservation::release() noexcept {
    SharedState* s = shared_state();
    if (s == nullptr) return;
    if (reserved_ != 0) {
        try {
            SharedLock lock(s);
            ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
            slot.quota_reserved = std::max<std::int64_t>(0, slot.quota_reserved - reserved_);
        } catch (...) {
            // Unreachable in practice (the slot exists while it holds a reservation).
        }
        reserved_ = 0;
    }
    if (unsaved_) save(s, last_charge_);
}

// The process is exiting from inside Postgres code (pg_terminate_backend, a
// fast shutdown): the C++ frames holding these reservations are never
// unwound, and what they hold would stay reserved until the server restarts.
void QuotaReservation::release_live(int, Datum) noexcept {
    for (QuotaReservation* r = live_; r != nullptr; r = r->next_) r->release();
    live_ = nullptr;
}

void QuotaReservation::save(SharedState* s, std::uint64_t charge) noexcept {
    if (save_quota_counts(s, charge, save_failed_ ? LOG : WARNING))
        unsaved_ = false;
    else
        save_failed_ = true;
}

bool QuotaReservation::claim_save(SharedState* s, std::int64_t now) {
    if (now - s->quota_saved_at_ms < kSaveEveryMs) return false;
    s->quota_saved_at_ms = now;
    return true;
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

void QuotaReservation::reserve(std::int64_t needed) {
    const std::int64_t quota = ctx_.settings.monthly_lookup_quota;
    SharedState* s = shared_state();
    if (s == nullptr) {
        // Without shared memory: what the history said, and what this
        // statement has charged and holds since, for this statement alone.
        if (quota > 0 && needed > 0) core::check_monthly_quota(quota, spent(), needed, ctx_.server_name);
        reserved_ += needed;
        return;
    }
    const std::int32_t month = current_month();
    bool loaded = false;
    std::uint64_t account = 0;
    {
        SharedLock lock(s);
        const ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
        loaded = slot.quota_month == month;
        account = slot.key_hash;
    }
    std::int64_t saved = 0, from_history = 0;
    bool unreadable = false;
    if (!loaded) {
        saved = saved_quota_count(account, month, unreadable);
        from_history = used_from_history();
    }
    std::exception_ptr refused;
    {
        SharedLock lock(s);
        ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
        if (slot.quota_month != month) {
            slot.quota_month = month;
            slot.quota_used = std::max(saved, from_history);
        }
        slot.quota_limit = quota;
        try {
            if (quota > 0 && needed > 0)
                core::check_monthly_quota(quota, slot.quota_used + slot.quota_reserved, needed,
                                          ctx_.server_name);
            slot.quota_reserved += needed;
            reserved_ += needed;
        } catch (...) {
            refused = std::current_exception();
        }
    }
    // A damaged file is replaced at once, whether or not this statement runs.
    if (unreadable) save(s, 0);
    if (refused) std::rethrow_exception(refused);
}

std::int64_t QuotaReservation::spent() {
    SharedState* s = shared_state();
    if (s == nullptr) {
        if (!history_used_) history_used_ = used_from_history();
        return *history_used_ + charged_here_ + reserved_;
    }
    reserve(0);  // loads the month's count
    SharedLock lock(s);
    const ApiKeySlot& slot = account_slot(s, ctx_, steady_now_ms());
    return slot.quota_used + slot.quota_reserved;
}

std::int64_t QuotaReservation::reserve_up_to(std::int64_t wanted) {
    const std::int64_t quota = ctx_.settings.monthly_lookup_quota;
    for (int attempt = 0; attempt < 3 && wanted > 0; ++attempt) {
        const std::int64_t n = quota > 0 ? std::min(wanted, std::max<std::int64_t>(0, quota - spent())) : wanted;
        if (n == 0) return 0;
        try {
            reserve(n);
            return n;
        } catch (const core::Error& e) {
            // Someone reserved in between: look again.
            if (e.kind() != core::ErrorKind::QuotaExceeded) throw;
        }
    }
    return 0;
}

void QuotaReservation::cover(std::int64_t needed) {
    if (needed > reserved_) reserve(needed - reserved_);
}

bool QuotaReservation::try_reserve(std::int64_t extra) {
    try {
        reserve(extra);
        return true;
    } catch (const core::Error& e) {
        if (e.kind() != core::ErrorKind::QuotaExceeded) throw;
        return false;
    }
}

void QuotaReservation::charge(std::int64_t lookups) {
    SharedState* s = shared_state();
    if (lookups <= 0) return;
    if (s == nullptr) {
        reserved_ -= std::min(lookups, reserved_);
        charged_here_ += lookups;
        return;
    }
    bool due = false;
    {
        const std::int64_t now = steady_now_ms();
        SharedLock lock(s);
        ApiKeySlot& slot = account_slot(s, ctx_, now);
        const std::int64_t from_reservation = std::min(lookups, reserved_);
        reserved_ -= from_reservation;
        slot.quota_reserved = std::max<std::int64_t>(0, slot.quota_reserved - from_reservation);
        if (slot.quota_month == 0) return;
        slot.quota_used += lookups;
        last_charge_ = ++s->quota_charges;
        unsaved_ = true;
        due = claim_save(s, now);
    }
    if (due) save(s, last_charge_);
}

void QuotaReservation::save_if_due() {
    SharedState* s = shared_state();
    if (s == nullptr || !unsaved_) return;
    bool due = false;
    {
        const std::int64_t now = steady_now_ms();
        SharedLock lock(s);
        if (s->quota_charges_saved >= last_charge_) {
            unsaved_ = false;
            return;
        }
        due = claim_save(s, now);
    }
    if (due) save(s, last_charge_);
}

}  // namespace cv::pg
