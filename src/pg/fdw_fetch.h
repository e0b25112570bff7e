// The rows a foreign-table scan or a batched join's keys select: every
// distinct lookup answered from the cache or bought (LookupSet, as the rows
// are read: MissPurchase), each key's row kept in a temporary file until the
// scan returns it.
#pragma once

#include "core/key_plan.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pg/fdw_columns.h"
#include "pg/pg_headers.h"
#include "pg/result_store.h"

extern "C" {
#include "access/tupdesc.h"
}

namespace cv::pg {

// What a scan spent, for EXPLAIN ANALYZE (summed over rescans).
struct FetchStats {
    std::int64_t keys = 0;          // distinct lookups
    std::int64_t cache_hits = 0;    // answered by the cache
    std::int64_t live = 0;          // sent to the API
    std::int64_t calls = 0;         // API calls, retries included
    std::int64_t rate_limited = 0;  // 429s received
    std::int64_t unmatchable = 0;   // keys not in the stored form: no row, no lookup
    std::int64_t invalid = 0;       // keys that cannot be looked up: INVALID_INPUT rows
};

class MissPurchase;

// The rows of a planner's keys, one per KeyRow, as cv_result datums. The
// cache answered what it could when they were made; the rest are bought as
// the rows are read, a round of calls at a time (MissPurchase), in the
// order the keys were added: a scan or join stopped early buys only what
// the rows it returned needed, rounded up to whole calls.
class FetchedRows {
public:
    FetchedRows(std::unique_ptr<ResultStore> store, std::vector<std::size_t> where,
                std::unique_ptr<MissPurchase> purchase);
    ~FetchedRows();
    FetchedRows(const FetchedRows&) = delete;
    FetchedRows& operator=(const FetchedRows&) = delete;
    std::size_t size() const { return where_.size(); }
    // Row i's cv_result, palloc'd in the current memory context; buys its
    // lookup first (with the next ones of its round) when it is still to be bought.
    Datum get(std::size_t i);
    // After an abort: the temporary file is closed already, so only C++ memory goes.
    void abandon() noexcept { store_->abandon(); }

private:
    std::unique_ptr<ResultStore> store_;
    std::vector<std::size_t> where_;
    std::unique_ptr<MissPurchase> purchase_;  // null: nothing to buy
};

// Looks every key of `keys` up through server `server` with `user`'s USAGE
// and user mapping (InvalidOid: the current user): the cache answers now,
// the rest are bought as the rows are read (FetchedRows). The store is made
// in `keep`, which must outlive the rows; `stats` too. `table` names the
// foreign table in messages. In a read-only transaction (and on a standby)
// a key the cache cannot answer fails the scan with 25006 before anything is
// sent; so do misses that would, all of them, cross
// contractor_verify.max_live_lookups (54000).
std::unique_ptr<FetchedRows> fetch_rows(Oid server, Oid user, const core::KeyPlanner& keys,
                                        const std::string& table, MemoryContext keep,
                                        FetchStats& stats);

// Fills `values`/`nulls` (the foreign table's attributes, `natts` of them,
// mapped by `columns`) from a row's cv_result. Rows show the key as the query
// gave it: lookup_name the name looked up; a key that could not be looked up
// its state and value; an error for a name given as business_name that name
// as its business_name.
void fill_row(TupleDesc result_desc, const int* columns, int natts, Datum result,
              const core::KeyRow& key, Datum* values, bool* nulls);

// cv_result's descriptor, found by OID (never by name), in the current memory context.
TupleDesc result_descriptor();

}  // namespace cv::pg
