// The monthly lookup quota, reserved atomically in shared memory per API
// account (url and key, whatever server names them): concurrent statements
// and jobs cannot overshoot it together, and every lookup the API charged
// counts, kept or not.
#pragma once

#include <cstdint>
#include <optional>

#include "pg/catalog.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"

namespace cv::pg {

class QuotaReservation {
public:
    QuotaReservation(const ServerContext& ctx, const ExtensionCatalog& catalog);
    // Gives back what was reserved and not charged.
    ~QuotaReservation();
    QuotaReservation(const QuotaReservation&) = delete;
    QuotaReservation& operator=(const QuotaReservation&) = delete;

    // Reserves `needed` lookups, or throws Error(QuotaExceeded) before
    // anything is sent when they would cross monthly_lookup_quota.
    void reserve(std::int64_t needed);
    // The API charged `lookups` (taken from this statement's reservation first).
    void charge(std::int64_t lookups);
    // Lookups of the month counted so far, charged or reserved by anyone.
    std::int64_t spent();

private:
    std::int64_t used_from_history();
    // The account's slot with this month's count loaded, `lock` holding it.
    ApiKeySlot& month_slot(SharedState* s, std::optional<SharedLock>& lock);

    const ServerContext& ctx_;
    const ExtensionCatalog& catalog_;
    std::int64_t reserved_ = 0;
};

}  // namespace cv::pg
