// Reading contractor_verify.license_cache directly through its primary key:
// no SQL, so nothing resolves through anyone's search_path, and no plan to
// build for each lookup. Rows are read with the latest committed snapshot, so
// an answer recorded by another transaction (or the worker) after this
// statement began is seen at once.
#pragma once

#include "core/cache_rules.h"

#include <string>

#include "pg/catalog.h"
#include "pg/pg_headers.h"

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
}

namespace cv::pg {

// One row of license_cache, deformed; its data lives in the reader's row
// memory until the reader's next reset().
struct CachedRow {
    bool found = false;
    Datum values[kCacheColumnCount];
    bool nulls[kCacheColumnCount];

    core::CacheHead head() const;
    bool is_null(CacheColumn c) const { return nulls[c]; }
    Datum value(CacheColumn c) const { return values[c]; }
    std::string str(CacheColumn c) const;  // empty when NULL
};

class CacheReader {
public:
    explicit CacheReader(const ExtensionCatalog& catalog);
    ~CacheReader();
    CacheReader(const CacheReader&) = delete;
    CacheReader& operator=(const CacheReader&) = delete;

    // Looks (api_url, state, license_number) up; out.found says whether a row exists.
    void probe(const std::string& api_url, const std::string& state,
               const std::string& license_number, CachedRow& out);

    // Takes a new snapshot (answers committed since are seen) and frees the
    // memory of every row read so far.
    void refresh();

private:
    void begin_scan();
    void end_scan();

    const ExtensionCatalog& catalog_;
    Relation heap_ = nullptr;
    Relation index_ = nullptr;
    Snapshot snapshot_ = nullptr;
    IndexScanDesc scan_ = nullptr;
    TupleTableSlot* slot_ = nullptr;
    MemoryContext home_ = nullptr;  // where the scan lives: the context it was made in
    MemoryContext rows_ = nullptr;
    AttrNumber index_to_heap_[3] = {};
};

// Milliseconds since the Unix epoch of a timestamptz, and back.
std::int64_t timestamptz_to_unix_ms(TimestampTz t);
TimestampTz unix_ms_to_timestamptz(std::int64_t ms);

}  // namespace cv::pg
