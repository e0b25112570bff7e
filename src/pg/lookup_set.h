// A set of distinct lookups answered cache first, the rest bought in batch
// calls: deduplicated, single-flighted, under the cluster-wide rate limit,
// recorded by the database's worker. cv_verify_batch, the foreign table's
// scans and its batched joins all look licenses up through this one piece.
#pragma once

#include "core/batch_runner.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "pg/progress.h"
#include "pg/result_row.h"
#include "pg/result_store.h"
#include "pg/server_context.h"
#include "pg/storage.h"

namespace cv::pg {

class LookupSet {
public:
    // Results land in `results`, by lookup index (lookup_id - 1).
    LookupSet(const ServerContext& ctx, Storage& storage, ResultBuilder& builder,
              ResultStore& results, std::optional<std::int64_t> max_age);

    // Answers from the cache every lookup it holds fresh (with any_age: any
    // answer it holds, however old), each in `results` at its lookup_id - 1;
    // the others become misses. Reads no more than the cache's rows, so it is
    // cheap enough to run before deciding to call. Returns how many it
    // answered (counted for the usage view).
    std::int64_t answer_from_cache(const std::vector<core::LookupItem>& lookups, bool any_age = false);
    const std::vector<core::LookupItem>& misses() const { return misses_; }
    // Makes `lookups`, found missing earlier, the misses to buy (buy() checks
    // the cache again for each before sending it).
    void set_misses(std::vector<core::LookupItem> lookups) { misses_ = std::move(lookups); }

    // Buys the misses (nothing to do when there are none): counts them against
    // the statement's budget (contractor_verify.max_live_lookups), reserves
    // them in the monthly quota, then runs the batches. Refuses before
    // anything is sent in a read-only transaction. progress may be null.
    // `what` names the work in the budget's message ("this batch", "this scan").
    core::BatchStats buy(const core::BatchOptions& options, BatchProgress* progress,
                         const char* what);

private:
    const ServerContext& ctx_;
    Storage& storage_;
    ResultBuilder& builder_;
    ResultStore& results_;
    std::optional<std::int64_t> max_age_;
    std::vector<core::LookupItem> misses_;
};

}  // namespace cv::pg
