// The monthly lookup quota, reserved atomically in shared memory per API
// account (url and key, whatever server names them): concurrent statements
// and jobs cannot overshoot it together, and every lookup the API charged
// counts, kept or not.
#pragma once

#include <cstdint>

#include "pg/catalog.h"
#include "pg/server_context.h"

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

private:
    std::int64_t used_from_history();

    const ServerContext& ctx_;
    const ExtensionCatalog& catalog_;
    std::int64_t reserved_ = 0;
};

}  // namespace cv::pg
