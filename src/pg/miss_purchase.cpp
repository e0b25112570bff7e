#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/purchase_rounds.h"

#include "pg/miss_purchase.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "pg/guard.h"
#include "pg/live_lookup_budget.h"
#include "pg/lookup_set.h"
#include "pg/memory_scope.h"
#include "pg/progress.h"
#include "pg/result_row.h"
#include "pg/scratch_context.h"
#include "pg/statement_names.h"
#include "pg/storage.h"

namespace cv::pg {

namespace {

std::size_t index_of(const core::LookupItem& item) {
    return std::stoull(item.lookup_id) - 1;
}

}  // namespace

MissPurchase::MissPurchase(ServerContext ctx, std::vector<PendingLookup> misses, std::string what,
                           FetchStats& stats)
    : ctx_(std::move(ctx)),
      misses_(std::move(misses)),
      rounds_(static_cast<std::int64_t>(misses_.size()), ctx_.settings.batch_size,
              ctx_.settings.max_concurrent_calls),
      what_(std::move(what)),
      stats_(stats) {
    std::size_t top = 0;
    for (const auto& m : misses_) top = std::max(top, index_of(m.item) + 1);
    pending_.assign(top, false);
    for (const auto& m : misses_) pending_[index_of(m.item)] = true;
}

bool MissPurchase::pending(std::size_t index) const {
    return index < pending_.size() && pending_[index];
}

bool MissPurchase::buy_next(ResultStore& store) {
    const auto n = static_cast<std::size_t>(rounds_.next());
    if (n == 0) return false;
    const std::size_t begin = next_, end = next_ + n;
    next_ = end;
    ScratchContext scratch;
    MemoryScope in_scratch(scratch.get());
    // A name another scan of this statement bought since this one's cache
    // pass (a subquery's, a nested loop's inner scan) is not bought again.
    std::vector<core::LookupItem> items;
    std::vector<bool> bought(n, true);
    items.reserve(n);
    for (std::size_t i = begin; i < end; ++i) {
        Datum answer = 0;
        if (!misses_[i].name_key.empty() &&
            statement_name_answer(ctx_.settings.url, misses_[i].name_key, &answer)) {
            store.put(index_of(misses_[i].item), answer);
            bought[i - begin] = false;
            continue;
        }
        items.push_back(misses_[i].item);
    }
    const auto to_buy = static_cast<std::int64_t>(items.size());

    ResultBuilder builder(result_descriptor());
    Storage storage(ctx_);
    LookupSet set(ctx_, storage, builder, store, std::nullopt);
    set.set_misses(std::move(items));
    BatchProgress progress(ctx_.server_name);
    progress.plan(to_buy, 0, 0, to_buy);
    const core::BatchStats s = set.buy(core::BatchOptions{}, &progress, what_.c_str());
    progress.finish(s);
    stats_.live += s.sent;
    stats_.cache_hits += to_buy - s.sent;
    stats_.calls += s.calls;
    stats_.rate_limited += s.rate_limited;
    for (std::size_t i = begin; i < end; ++i) {
        const core::LookupItem& item = misses_[i].item;
        const std::size_t index = index_of(item);
        pending_[index] = false;
        if (!store.has(index))
            store.put(index, builder.error_row(item.state, item.license_number, "NO_RESULT",
                                               "no answer was recorded for this record"));
        if (bought[i - begin] && !misses_[i].name_key.empty())
            remember_statement_name_answer(ctx_.settings.url, misses_[i].name_key,
                                           store.get(index));
    }
    return true;
}

}  // namespace cv::pg
