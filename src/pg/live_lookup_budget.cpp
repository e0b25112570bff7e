#include "pg/core_first.h"
#include "core/error.h"

#include "pg/live_lookup_budget.h"

#include <algorithm>
#include <climits>
#include <string>
#include <unordered_map>

#include "pg/module.h"
#include "pg/pg_headers.h"

extern "C" {
#include "access/xact.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/guc.h"
#include "utils/portal.h"
}

namespace cv::pg {

namespace {

int max_live_lookups = -1;  // -1: no limit

// The statement the count belongs to: a client statement is known by when it
// started, which every statement inside it shares: a function's, and those of
// a procedure or DO block that commits as it goes (each commit starts a new
// transaction within the same client statement, so the transaction is no
// part of the key). Two client statements started in the same microsecond
// would share one count: refused sooner, never later.
struct StatementCount {
    TimestampTz started = 0;
    std::int64_t used = 0;
};
StatementCount statement_count;

// A query run in parts by later client statements (a cursor's FETCHes, psql's
// FETCH_COUNT, a driver's fetch size: Execute messages with a row limit) is
// also counted as a whole, by its portal, known by its creation time:
// otherwise every FETCH would start a new count, and a nested loop fetched a
// row at a time could look up without limit. A lookup must fit in both
// counts. Such a portal runs only in the transaction that defined it (a
// holdable cursor is run to its end at commit), so these counts go with it.
std::unordered_map<TimestampTz, std::int64_t> portal_counts;
LocalTransactionId portal_counts_xact = InvalidLocalTransactionId;

// The count of the portal running now when an earlier client statement
// defined it, else null.
std::int64_t* resumed_portal_count(TimestampTz statement) {
    if (ActivePortal == nullptr || ActivePortal->creation_time >= statement) return nullptr;
    if (portal_counts_xact != MyProc->lxid) {
        portal_counts.clear();
        portal_counts_xact = MyProc->lxid;
    }
    return &portal_counts[ActivePortal->creation_time];
}

}  // namespace

void budget_settings_init() {
    DefineCustomIntVariable(
        "contractor_verify.max_live_lookups",
        "Most lookups the cache cannot answer that one statement may send to the API (-1: no "
        "limit).",
        "A foreign-table scan, batched join or cv_verify_batch that would need more is refused "
        "before anything is sent; 0 answers from the cache only.",
        &max_live_lookups, -1, -1, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

namespace {

// Throws when `needed` more would cross the limit; counts them when `spend`.
void charge(std::int64_t needed, const char* what, bool spend) {
    if (needed <= 0) return;
    const TimestampTz statement = GetCurrentStatementStartTimestamp();
    if (statement_count.started != statement) statement_count = StatementCount{statement, 0};
    std::int64_t* portal_used = resumed_portal_count(statement);
    const std::int64_t used =
        portal_used != nullptr ? std::max(statement_count.used, *portal_used) : statement_count.used;
    if (max_live_lookups >= 0 && used + needed > max_live_lookups) {
        const std::string limit = std::to_string(max_live_lookups);
        const std::string total = std::to_string(used + needed);
        std::string message = std::string(what) + " needs " + std::to_string(needed) +
                              (used > 0 ? " more" : "") + " live lookup" +
                              (needed == 1 ? "" : "s");
        if (used > 0) message += ", " + total + " in the statement";
        message += ", more than contractor_verify.max_live_lookups (" + limit + ")";
        throw core::Error(core::ErrorKind::BudgetExceeded, message,
                          "Nothing was sent. Lookups the cache answers are free; raise the limit "
                          "for this session with SET contractor_verify.max_live_lookups = " +
                              total + "; or look fewer licenses up.");
    }
    if (!spend) return;
    statement_count.used += needed;
    if (portal_used != nullptr) *portal_used += needed;
}

}  // namespace

void check_live_lookups(std::int64_t needed, const char* what) { charge(needed, what, false); }

void spend_live_lookups(std::int64_t needed, const char* what) { charge(needed, what, true); }

}  // namespace cv::pg
