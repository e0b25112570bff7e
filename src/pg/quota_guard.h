// The monthly lookup quota, reserved atomically in shared memory per API
// account (url and key, whatever server names them): concurrent statements
// and jobs cannot overshoot it together, and every lookup the API charged
// counts, kept or not.
//
// An account's month count is loaded when shared memory does not hold it
// (after a restart or crash, or once its slot was reclaimed) as the larger
// of what the quota file saved (pg/quota_file.h) and this database's
// history of the month: the file holds every database's charges up to its
// last rewrite, the history this database's own, recorded ones.
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
    // Gives back what was reserved and not charged, and has the quota file
    // rewritten unless it already holds this statement's charges.
    ~QuotaReservation();
    QuotaReservation(const QuotaReservation&) = delete;
    QuotaReservation& operator=(const QuotaReservation&) = delete;

    // Reserves `needed` lookups, or throws Error(QuotaExceeded) before
    // anything is sent when they would cross monthly_lookup_quota.
    void reserve(std::int64_t needed);
    // The API charged `lookups` (taken from this statement's reservation
    // first). Has the quota file rewritten unless a rewrite began in the last
    // second.
    void charge(std::int64_t lookups);
    // Has a charge the quota file does not hold yet saved once the last
    // rewrite began a second ago; called on every turn of a statement's loop,
    // so a running statement's charges reach the file within about a second.
    void save_if_due();
    // Lookups of the month counted so far on the account, charged or reserved by anyone.
    std::int64_t spent();
    // Reserves as many of `wanted` lookups as the quota has room for (all of
    // them without a quota); returns how many.
    std::int64_t reserve_up_to(std::int64_t wanted);
    // Makes sure `needed` lookups are reserved, reserving only what this
    // reservation does not hold yet; throws Error(QuotaExceeded) as reserve() does.
    void cover(std::int64_t needed);
    // Reserves `extra` lookups more (a call the API may have charged, sent
    // again); false, nothing reserved, when they would cross the quota.
    bool try_reserve(std::int64_t extra);

private:
    // Gives back what is reserved and not charged and saves unsaved charges;
    // never throws. Run by the destructor, and at backend exit for
    // reservations whose destructor will never run (a termination raised
    // inside Postgres code ends the process without unwinding C++ frames).
    void release() noexcept;
    static void release_live(int, Datum) noexcept;

    std::int64_t used_from_history();
    // Has the quota file saved (pg/quota_file.h); never throws. The
    // statement's first failure is a WARNING, later ones are logged.
    void save(SharedState* s, std::uint64_t charge) noexcept;
    // Claims the next rewrite when none began in the last second. Call with s->lock held.
    static bool claim_save(SharedState* s, std::int64_t now);

    const ServerContext& ctx_;
    const ExtensionCatalog& catalog_;
    std::int64_t reserved_ = 0;
    // Without shared memory, the statement keeps its own count: what the
    // history said at its first reservation, and what it was charged since
    // (recorded or not yet).
    std::optional<std::int64_t> history_used_;
    std::int64_t charged_here_ = 0;
    std::uint64_t last_charge_ = 0;  // SharedState::quota_charges of this statement's last charge
    bool unsaved_ = false;       // the file may not hold last_charge_ yet
    bool save_failed_ = false;   // later failures of this statement go to the server log alone
    // The reservations alive in this process, for release_live.
    QuotaReservation* prev_ = nullptr;
    QuotaReservation* next_ = nullptr;
    static QuotaReservation* live_;
};

}  // namespace cv::pg
