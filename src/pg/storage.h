// The extension's tables as one lookup statement uses them: the cache read
// directly, answers handed to the database's worker (or, without one,
// recorded in the caller's transaction), the lookups this statement is
// buying (single flight) and its share of the monthly quota.
#pragma once

#include "core/absent_keys.h"
#include "core/observation.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/quota_guard.h"
#include "pg/recorder.h"
#include "pg/result_row.h"
#include "pg/server_context.h"
#include "pg/single_flight.h"

namespace cv::pg {

class Storage {
public:
    explicit Storage(const ServerContext& ctx);
    // Hands over what is still waiting for room in the queue (best effort)
    // and releases this statement's claims and quota reservation.
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    const ExtensionCatalog& catalog() const { return catalog_; }
    const RecordingTarget& target() const { return target_; }
    CacheReader& reader() { return *reader_; }
    InflightClaims& claims() { return claims_; }
    // When this statement began (Unix ms): an answer recorded since then by
    // a session this one waited for serves it whatever max_age says.
    std::int64_t started_ms() const { return started_ms_; }

    // Reads a license's cache row (with the reader's current snapshot) into
    // `row`; how it answers a lookup with this max_age, answers recorded
    // after `since` serving whatever max_age says.
    core::CacheVerdict look_up(const std::string& state, const std::string& license_number, CachedRow& row,
                               std::optional<std::int64_t> max_age,
                               std::optional<std::int64_t> since = std::nullopt);

    // Before any call: refuses in a read-only transaction, reserves `needed`
    // lookups of the monthly quota (or refuses them, nothing sent), and
    // decides whether the worker records the answers.
    void prepare_to_call(std::int64_t needed);
    // Before a call the API may have charged is sent again: reserves its
    // lookups once more, or false when the quota cannot cover them.
    bool reserve_again(std::int64_t lookups) { return quota_.try_reserve(lookups); }

    // Records a chunk's observations and hands each answer's cv_result to
    // on_result (with the observation), in order. Never waits on another
    // session.
    void record(std::vector<core::Observation> observations, ResultBuilder& results,
                const std::function<void(const core::Observation&, Datum)>& on_result);

    // Hand-overs not yet recorded by the worker.
    std::size_t unsettled();
    // Moves hand-overs along, and has the quota file saved when due.
    void poll();
    void wait_settled();
    void settle_all();

    // Waits (interruptibly) until the claim on a lookup another session is
    // buying is released or its answer recorded.
    void wait_for_other_session();

    static void ensure_writable();

private:
    struct Waiting {
        std::string message;
        std::set<std::pair<std::string, std::string>> keys;
    };

    const ServerContext& ctx_;
    const ExtensionCatalog& catalog_;
    RecordingTarget target_;
    std::unique_ptr<CacheReader> reader_;
    InflightClaims claims_;
    core::AbsentKeys absent_;  // licenses look_up found no row for
    QuotaReservation quota_;
    std::int64_t started_ms_ = 0;
    MemoryContext scratch_ = nullptr;  // one chunk's allocations
    bool prepared_ = false;
    bool queued_ = false;  // the worker records; otherwise this transaction does
    std::deque<Waiting> waiting_;
    std::vector<std::uint64_t> tickets_;
};

}  // namespace cv::pg
