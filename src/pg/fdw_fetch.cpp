#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/key_plan.h"

#include "pg/fdw_fetch.h"

#include <optional>

#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/lookup_set.h"
#include "pg/memory_scope.h"
#include "pg/progress.h"
#include "pg/result_row.h"
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

// A memory context deleted when the fetch ends, however it ends.
class ScratchContext {
public:
    ScratchContext() {
        pg_call([&] {
            context_ = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify scan lookups",
                                             ALLOCSET_DEFAULT_SIZES);
        });
    }
    ~ScratchContext() { MemoryContextDelete(context_); }
    ScratchContext(const ScratchContext&) = delete;
    ScratchContext& operator=(const ScratchContext&) = delete;
    MemoryContext get() const { return context_; }

private:
    MemoryContext context_ = nullptr;
};

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
    if (rows.empty()) return std::make_unique<FetchedRows>(std::move(store), std::move(where));

    const char* server_name = pg_value([&] { return GetForeignServer(server)->servername; });
    const ServerContext ctx = load_server_context(server_name, user);
    ScratchContext scratch;
    MemoryScope in_scratch(scratch.get());
    ResultBuilder builder(result_descriptor());
    if (!lookups.empty()) {
        // A name this statement bought already (the cache cannot answer
        // names) is not bought again: a nested loop's rescans and a function
        // called per row buy each name once per statement.
        std::vector<core::LookupItem> pending;
        std::vector<bool> reused(lookups.size(), false);
        pending.reserve(lookups.size());
        for (std::size_t i = 0; i < lookups.size(); ++i) {
            Datum answer = 0;
            if (lookups[i].license_number.empty() &&
                statement_name_answer(ctx.settings.url, keys.lookup_key(i), &answer)) {
                store->put(i, answer);
                reused[i] = true;
            } else {
                pending.push_back(lookups[i]);
            }
        }
        Storage storage(ctx);
        LookupSet set(ctx, storage, builder, *store, std::nullopt);
        set.answer_from_cache(pending);
        const auto misses = static_cast<std::int64_t>(set.misses().size());
        const auto lookup_count = static_cast<std::int64_t>(lookups.size());
        if (misses > 0 && XactReadOnly)
            throw Error(ErrorKind::ReadOnly,
                        "cannot look up " + plural(misses, "license", "licenses") +
                            " in a read-only transaction",
                        "In a read-only transaction, and on a standby, foreign table \"" + table +
                            "\" answers from the cache alone, and the cache cannot answer " +
                            std::to_string(misses) + " of this scan's " +
                            plural(lookup_count, "lookup", "lookups") +
                            " (not in it, or no longer fresh). Run the query in a read-write "
                            "transaction on the "
                            "primary; contractor_verify.licenses shows what the cache holds.");
        std::int64_t sent = 0;
        if (misses > 0) {
            BatchProgress progress(ctx.server_name);
            progress.plan(static_cast<std::int64_t>(rows.size()),
                          static_cast<std::int64_t>(invalid), lookup_count - misses, misses);
            const core::BatchStats s = set.buy(core::BatchOptions{}, &progress,
                                               ("this scan of \"" + table + "\"").c_str());
            progress.finish(s);
            sent = s.sent;
            stats.calls += s.calls;
            stats.rate_limited += s.rate_limited;
        }
        stats.live += sent;
        stats.cache_hits += lookup_count - sent;
        for (std::size_t i = 0; i < lookups.size(); ++i)
            if (!store->has(i))
                store->put(
                    i, builder.error_row(lookups[i].state, lookups[i].license_number, "NO_RESULT",
                                         "no answer was recorded for this record"));
        for (std::size_t i = 0; i < lookups.size(); ++i)
            if (lookups[i].license_number.empty() && !reused[i])
                remember_statement_name_answer(ctx.settings.url, keys.lookup_key(i), store->get(i));
    }
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (rows[i].lookup < 0)
            store->put(where[i], builder.error_row(rows[i].state, "", core::outcome::kInvalidInput,
                                                   rows[i].error));
    return std::make_unique<FetchedRows>(std::move(store), std::move(where));
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
