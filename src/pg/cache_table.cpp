#include "pg/core_first.h"
#include "core/error.h"

#include "pg/cache_table.h"

#include "pg/guard.h"

extern "C" {
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "datatype/timestamp.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace cv::pg {

std::int64_t timestamptz_to_unix_ms(TimestampTz t) {
    // TimestampTz counts microseconds from 2000-01-01.
    constexpr std::int64_t kEpochShiftMs =
        static_cast<std::int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
    return (t >= 0 ? t / 1000 : (t - 999) / 1000) + kEpochShiftMs;
}

TimestampTz unix_ms_to_timestamptz(std::int64_t ms) {
    constexpr std::int64_t kEpochShiftMs =
        static_cast<std::int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
    return (ms - kEpochShiftMs) * 1000;
}

std::string CachedRow::str(CacheColumn c) const {
    if (!found || nulls[c]) return {};
    const char* s = pg_value([&] { return text_to_cstring(DatumGetTextPP(values[c])); });
    return s;
}

core::CacheHead CachedRow::head() const {
    core::CacheHead h;
    if (!found) return h;
    h.exists = true;
    h.outcome = str(kCacheOutcome);
    auto ms = [&](CacheColumn c) -> std::optional<std::int64_t> {
        if (nulls[c]) return std::nullopt;
        return timestamptz_to_unix_ms(DatumGetTimestampTz(values[c]));
    };
    h.fetched_at_ms = ms(kCacheFetchedAt);
    h.expires_at_ms = ms(kCacheExpiresAt);
    h.license_status = str(kCacheLicenseStatus);
    h.has_disciplinary_actions =
        !nulls[kCacheHasDisciplinaryActions] && DatumGetBool(values[kCacheHasDisciplinaryActions]);
    h.attempt.last_attempt_at_ms = ms(kCacheLastAttemptAt);
    h.attempt.last_error_code = str(kCacheLastErrorCode);
    h.attempt.last_error_message = str(kCacheLastErrorMessage);
    h.attempt.consecutive_timeouts = nulls[kCacheConsecutiveTimeouts]
                                         ? 0
                                         : DatumGetInt32(values[kCacheConsecutiveTimeouts]);
    h.attempt.next_attempt_at_ms = ms(kCacheNextAttemptAt);
    h.attempt.needs_review = !nulls[kCacheNeedsReview] && DatumGetBool(values[kCacheNeedsReview]);
    h.attempt.review_reason = str(kCacheReviewReason);
    return h;
}

CacheReader::CacheReader(const ExtensionCatalog& catalog) : catalog_(catalog) {
    pg_call([&] {
        home_ = CurrentMemoryContext;
        rows_ = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify cache rows",
                                      ALLOCSET_DEFAULT_SIZES);
        heap_ = table_open(catalog_.cache, AccessShareLock);
        index_ = index_open(catalog_.cache_key, AccessShareLock);
        if (index_->rd_index->indnkeyatts != 3) elog(ERROR, "contractor_verify: unexpected cache key");
        for (int i = 0; i < 3; ++i) index_to_heap_[i] = index_->rd_index->indkey.values[i];
        slot_ = table_slot_create(heap_, nullptr);
    });
    if (index_to_heap_[0] != catalog_.cache_att[kCacheApiUrl] ||
        index_to_heap_[1] != catalog_.cache_att[kCacheState] ||
        index_to_heap_[2] != catalog_.cache_att[kCacheLicenseNumber]) {
        end_scan();
        throw core::Error(core::ErrorKind::MissingConfig,
                          "the primary key of contractor_verify.license_cache is not (api_url, state, license_number)",
                          "Reinstall the extension.");
    }
    begin_scan();
}

CacheReader::~CacheReader() { end_scan(); }

void CacheReader::begin_scan() {
    pg_call([&] {
        // In the reader's own memory, whatever context the caller is in now.
        MemoryContext old = MemoryContextSwitchTo(home_);
        snapshot_ = RegisterSnapshot(GetLatestSnapshot());
        scan_ = index_beginscan(heap_, index_, snapshot_, 3, 0);
        MemoryContextSwitchTo(old);
    });
}

void CacheReader::end_scan() {
    if (scan_ != nullptr) index_endscan(scan_);
    scan_ = nullptr;
    if (snapshot_ != nullptr) UnregisterSnapshot(snapshot_);
    snapshot_ = nullptr;
    if (slot_ != nullptr) ExecDropSingleTupleTableSlot(slot_);
    slot_ = nullptr;
    if (index_ != nullptr) index_close(index_, AccessShareLock);
    index_ = nullptr;
    if (heap_ != nullptr) table_close(heap_, AccessShareLock);
    heap_ = nullptr;
    if (rows_ != nullptr) MemoryContextDelete(rows_);
    rows_ = nullptr;
}

void CacheReader::refresh() {
    pg_call([&] {
        index_endscan(scan_);
        scan_ = nullptr;
        UnregisterSnapshot(snapshot_);
        snapshot_ = nullptr;
        MemoryContextReset(rows_);
    });
    begin_scan();
}

void CacheReader::probe(const std::string& api_url, const std::string& state,
                        const std::string& license_number, CachedRow& out) {
    out.found = false;
    const std::string* parts[3] = {&api_url, &state, &license_number};
    pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(rows_);
        ScanKeyData keys[3];
        for (int i = 0; i < 3; ++i) {
            Datum d = PointerGetDatum(
                cstring_to_text_with_len(parts[i]->data(), static_cast<int>(parts[i]->size())));
            ScanKeyEntryInitialize(&keys[i], 0, static_cast<AttrNumber>(i + 1), BTEqualStrategyNumber,
                                   InvalidOid, index_->rd_indcollation[i], F_TEXTEQ, d);
        }
        MemoryContextSwitchTo(home_);
        index_rescan(scan_, keys, 3, nullptr, 0);
        const bool found_row = index_getnext_slot(scan_, ForwardScanDirection, slot_);
        MemoryContextSwitchTo(rows_);
        if (found_row) {
            HeapTuple tuple = ExecCopySlotHeapTuple(slot_);
            Datum all[MaxHeapAttributeNumber];
            bool all_nulls[MaxHeapAttributeNumber];
            heap_deform_tuple(tuple, RelationGetDescr(heap_), all, all_nulls);
            for (int c = 0; c < kCacheColumnCount; ++c) {
                const int att = catalog_.cache_att[c] - 1;
                out.values[c] = all[att];
                out.nulls[c] = all_nulls[att];
            }
            out.found = true;
            ExecClearTuple(slot_);
        }
        MemoryContextSwitchTo(old);
    });
}

}  // namespace cv::pg
