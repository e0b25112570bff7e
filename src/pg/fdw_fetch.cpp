#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/key_plan.h"
#include "core/purchase_rounds.h"

#include "pg/fdw_fetch.h"

#include <optional>

#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/lookup_set.h"
#include "pg/live_lookup_budget.h"
#include "pg/memory_scope.h"
#include "pg/miss_purchase.h"
#include "pg/result_row.h"
#include "pg/scratch_context.h"
#include "pg/server_context.h"
#include "pg/statement_names.h"
#include "pg/storage.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/typcache.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;

std::string plural(std::int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

TupleDesc result_descriptor() {
    const Oid type = extension_catalog().result_type;
    return pg_value([&] { return BlessTupleDesc(lookup_rowtype_tupdesc_copy(type, -1)); });
}

std::unique_ptr<FetchedRows> fetch_rows(Oid server, Oid user, const core::KeyPlanner& keys,
                                        const std::string& table, MemoryContext keep,
                                        FetchStats& stats) {
    // Queries that read the table are planned without parallel mode; a
    // function that reads it, wrongly marked PARALLEL SAFE, can still run in it.
    if (pg_value([] { return IsInParallelMode(); }))
        throw Error(ErrorKind::NotSupported,
                    "cannot read foreign table \"" + table + "\" in parallel mode",
                    "A function that reads it must be PARALLEL UNSAFE (the default): its lookups "
                    "read the cache with fresh snapshots and may buy answers, which parallel mode "
                    "forbids.");
    const auto& rows = keys.rows();
    const auto& lookups = keys.lookups();
    // The store holds each lookup's answer, then the rows of keys that cannot be looked up.
    std::vector<std::size_t> where(rows.size());
    std::size_t invalid = 0;
    for (std::size_t i = 0; i < rows.size(); ++i)
        where[i] = rows[i].lookup >= 0 ? static_cast<std::size_t>(rows[i].lookup)
                                       : lookups.size() + invalid++;
    stats.keys += static_cast<std::int64_t>(lookups.size());
    stats.unmatchable += keys.unmatchable();
    stats.invalid += static_cast<std::int64_t>(invalid);
    std::unique_ptr<ResultStore> store;
    {
        MemoryScope in_keep(keep);
        store = std::make_unique<ResultStore>(lookups.size() + invalid);
    }
    if (rows.empty())
        return std::make_unique<FetchedRows>(std::move(store), std::move(where), nullptr);

    const char* server_name = pg_value([&] { return GetForeignServer(server)->servername; });
    const ServerContext ctx = load_server_context(server_name, user);
    std::unique_ptr<MissPurchase> purchase;
    ScratchContext scratch;
    {
        MemoryScope in_scratch(scratch.get());
        ResultBuilder builder(result_descriptor());
        if (!lookups.empty()) {
            // A name this statement bought already (the cache cannot answer
            // names) is not bought again: a nested loop's rescans and a function
            // called per row buy each name once per statement.
            std::vector<core::LookupItem> pending;
            pending.reserve(lookups.size());
            for (std::size_t i = 0; i < lookups.size(); ++i) {
                Datum answer = 0;
                if (lookups[i].license_number.empty() &&
                    statement_name_answer(ctx.settings.url, keys.lookup_key(i), &answer))
                    store->put(i, answer);
                else
                    pending.push_back(lookups[i]);
            }
            Storage storage(ctx);
            std::vector<PendingLookup> misses;
            {
                LookupSet set(ctx, storage, builder, *store, std::nullopt);
                set.answer_from_cache(pending);
                for (const core::LookupItem& item : set.misses()) {
                    PendingLookup m{item, {}};
                    if (item.license_number.empty())
                        m.name_key = keys.lookup_key(std::stoull(item.lookup_id) - 1);
                    misses.push_back(std::move(m));
                }
            }
            const auto miss_count = static_cast<std::int64_t>(misses.size());
            const auto lookup_count = static_cast<std::int64_t>(lookups.size());
            if (miss_count > 0 && XactReadOnly)
                throw Error(ErrorKind::ReadOnly,
                            "cannot look up " + plural(miss_count, "license", "licenses") +
                                " in a read-only transaction",
                            "In a read-only transaction, and on a standby, foreign table \"" +
                                table + "\" answers from the cache alone, and the cache cannot "
                                "answer " + std::to_string(miss_count) + " of this scan's " +
                                plural(lookup_count, "lookup", "lookups") +
                                " (not in it, or no longer fresh). Run the query in a read-write "
                                "transaction on the "
                                "primary; contractor_verify.licenses shows what the cache holds.");
            const std::string what = "this scan of \"" + table + "\"";
            // Refused up front when buying every miss would cross the
            // budget; each round counts against it as it is bought.
            check_live_lookups(miss_count, what.c_str());
            // So is one whose misses would cross the monthly quota: they are
            // reserved here and given back when this storage goes; each
            // round reserves its own.
            if (miss_count > 0) storage.prepare_to_call(miss_count);
            stats.cache_hits += lookup_count - miss_count;
            if (miss_count > 0)
                // A copy: the storage above refers to ctx until it goes.
                purchase = std::make_unique<MissPurchase>(ctx, std::move(misses), what, stats);
        }
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (rows[i].lookup < 0)
                store->put(where[i], builder.error_row(rows[i].state, "",
                                                       core::outcome::kInvalidInput, rows[i].error));
    }
    return std::make_unique<FetchedRows>(std::move(store), std::move(where), std::move(purchase));
}

FetchedRows::FetchedRows(std::unique_ptr<ResultStore> store, std::vector<std::size_t> where,
                         std::unique_ptr<MissPurchase> purchase)
    : store_(std::move(store)), where_(std::move(where)), purchase_(std::move(purchase)) {}

FetchedRows::~FetchedRows() = default;

Datum FetchedRows::get(std::size_t i) {
    const std::size_t lookup = where_[i];
    if (purchase_ != nullptr)
        while (purchase_->pending(lookup))
            if (!purchase_->buy_next(*store_)) break;
    return store_->get(lookup);
}

void fill_row(TupleDesc result_desc, const int* columns, int natts, Datum result,
              const core::KeyRow& key, Datum* values, bool* nulls) {
    Datum rv[kResultColumnCount];
    bool rn[kResultColumnCount];
    deform_result(result, result_desc, rv, rn);
    const bool invalid = key.lookup < 0;
    const bool by_name = key.kind == core::KeyKind::Name;
    for (int i = 0; i < natts; ++i) {
        const int c = columns[i];
        nulls[i] = true;
        values[i] = 0;
        if (c < 0) continue;
        if (c == kLookupNameColumn) {
            if (by_name) {
                values[i] = utf8_text(key.value);
                nulls[i] = false;
            }
        } else if (invalid && c == kResState) {
            values[i] = utf8_text(key.state);
            nulls[i] = false;
        } else if (invalid && !by_name && c == kResLicenseNumber) {
            values[i] = utf8_text(key.value);
            nulls[i] = false;
        } else if (c == kResBusinessName && key.by_business_name && rn[c] && !rn[kResErrorCode]) {
            // An error for a name looked up as business_name: shown under
            // that name, so the qual that named it keeps the row.
            values[i] = utf8_text(key.value);
            nulls[i] = false;
        } else {
            values[i] = rv[c];
            nulls[i] = rn[c];
        }
    }
}

}  // namespace cv::pg
