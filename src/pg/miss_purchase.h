// The lookups of a foreign-table scan or batched join the cache did not
// answer, bought a round at a time as the rows that need them are returned
// (core::PurchaseRounds): a query stopped early buys only what its rows
// needed, rounded up to whole calls.
#pragma once

#include "core/batch_protocol.h"
#include "core/purchase_rounds.h"

#include <cstdint>
#include <string>
#include <vector>

#include "pg/fdw_fetch.h"
#include "pg/result_store.h"
#include "pg/server_context.h"

namespace cv::pg {

// A lookup to buy: its item (lookup_id: index + 1) and, for a name, its
// normalized key, kept for the statement's later lookups of that name.
struct PendingLookup {
    core::LookupItem item;
    std::string name_key;
};

class MissPurchase {
public:
    // `misses` in the order the rows need them; `what` names the scan in
    // the budget's message. The caller has checked the
    // budget, the transaction and the cache for all of them already.
    MissPurchase(ServerContext ctx, std::vector<PendingLookup> misses, std::string what,
                 FetchStats& stats);

    // Whether lookup `index` is still to be bought.
    bool pending(std::size_t index) const;
    // Buys the next round into `store`: every lookup of it gets a row there
    // (an error row when no answer came). Counts what it spent in the stats.
    // False when nothing was left to buy.
    bool buy_next(ResultStore& store);

private:
    ServerContext ctx_;
    std::vector<PendingLookup> misses_;
    std::size_t next_ = 0;       // misses_[next_..] are not bought yet
    std::vector<bool> pending_;  // by lookup index
    core::PurchaseRounds rounds_;
    std::string what_;
    FetchStats& stats_;
};

}  // namespace cv::pg
