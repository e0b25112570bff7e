#include "pg/core_first.h"
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/rate_window.h"

#include "pg/progress.h"

#include <cstring>

#include "pg/guard.h"
#include "pg/srf.h"

extern "C" {
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "catalog/pg_authid.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

int notice_interval_s = 0;

// The object holding this backend's slot: a batch started while another runs
// in the same statement (a foreign-table scan in a roster query) shows none,
// so it cannot overwrite or free the outer batch's.
const BatchProgress* holder = nullptr;

const char* phase_name(BatchPhase p) {
    switch (p) {
        case BatchPhase::Loading:
            return "loading roster";
        case BatchPhase::Planning:
            return "planning";
        case BatchPhase::Calling:
            return "calling the API";
        case BatchPhase::WaitingForRateLimit:
            return "waiting for the rate limit";
        case BatchPhase::Returning:
            return "returning results";
    }
    return "unknown";
}

bool backend_alive(int pid) {
    return pg_value([&] { return BackendPidGetProc(pid) != nullptr; });
}

// A steady-clock time as a timestamptz.
TimestampTz steady_to_timestamptz(std::int64_t steady_ms) {
    const std::int64_t delta = steady_ms - steady_now_ms();
    return GetCurrentTimestamp() + delta * 1000;
}

}  // namespace

void progress_settings_init() {
    DefineCustomIntVariable(
        "contractor_verify.progress_notice_interval",
        "Seconds between NOTICE lines reporting a running batch's progress (0: none).", nullptr,
        &notice_interval_s, 0, 0, 3600, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

BatchProgress::BatchProgress(const std::string& server_name) {
    started_ms_ = last_notice_ms_ = steady_now_ms();
    SharedState* s = shared_state();
    if (s == nullptr || holder != nullptr) return;
    SharedLock lock(s);
    for (auto& slot : s->progress) {
        if (slot.pid != 0 && slot.pid != MyProcPid && backend_alive(slot.pid)) continue;
        SpinLockAcquire(&slot.mutex);
        const int pid = MyProcPid;
        std::memset(reinterpret_cast<char*>(&slot) + offsetof(ProgressSlot, pid), 0,
                    sizeof(ProgressSlot) - offsetof(ProgressSlot, pid));
        slot.pid = pid;
        slot.database = MyDatabaseId;
        slot.role = GetUserId();
        std::strncpy(slot.server, server_name.c_str(), NAMEDATALEN - 1);
        slot.started_at = GetCurrentTimestamp();
        slot.phase = BatchPhase::Loading;
        SpinLockRelease(&slot.mutex);
        slot_ = &slot;
        holder = this;
        return;
    }
}

BatchProgress::~BatchProgress() {
    if (holder == this) holder = nullptr;
    if (slot_ == nullptr) return;
    SpinLockAcquire(&slot_->mutex);
    slot_->pid = 0;
    SpinLockRelease(&slot_->mutex);
}

void BatchProgress::phase(BatchPhase p) {
    if (slot_ == nullptr) return;
    SpinLockAcquire(&slot_->mutex);
    slot_->phase = p;
    SpinLockRelease(&slot_->mutex);
}

void BatchProgress::plan(std::int64_t total, std::int64_t invalid, std::int64_t cached,
                         std::int64_t lookups) {
    total_ = total;
    cached_ = cached;
    lookups_ = lookups;
    if (slot_ == nullptr) return;
    SpinLockAcquire(&slot_->mutex);
    slot_->total = total;
    slot_->invalid = invalid;
    slot_->cached = cached;
    slot_->lookups = lookups;
    SpinLockRelease(&slot_->mutex);
}

void BatchProgress::update(const core::BatchStats& st) {
    if (slot_ != nullptr) {
        const TimestampTz next = st.waiting_for_limiter ? steady_to_timestamptz(st.next_call_at_ms) : 0;
        SpinLockAcquire(&slot_->mutex);
        slot_->phase = st.waiting_for_limiter ? BatchPhase::WaitingForRateLimit : BatchPhase::Calling;
        slot_->sent = st.sent;
        slot_->done = st.done;
        slot_->failed = st.failed;
        slot_->calls = st.calls;
        slot_->retries = st.retries;
        slot_->rate_limited = st.rate_limited;
        slot_->next_call_at = next;
        SpinLockRelease(&slot_->mutex);
    }
    maybe_notice(st, false);
}

void BatchProgress::finish(const core::BatchStats& st) { maybe_notice(st, true); }

void BatchProgress::maybe_notice(const core::BatchStats& st, bool last) {
    if (notice_interval_s <= 0) return;
    const std::int64_t now = steady_now_ms();
    if (!last && now - last_notice_ms_ < notice_interval_s * 1000LL) return;
    if (last && st.done == noticed_done_ && st.calls == noticed_calls_) return;  // already said
    last_notice_ms_ = now;
    noticed_done_ = st.done;
    noticed_calls_ = st.calls;
    char wait[64] = "";
    if (st.waiting_for_limiter && st.next_call_at_ms > now)
        snprintf(wait, sizeof wait, ", next call in %.1fs",
                      static_cast<double>(st.next_call_at_ms - now) / 1000.0);
    char line[512];
    snprintf(line, sizeof line,
                  "cv_verify_batch: %lld of %lld lookups done (%lld failed), %lld from cache of "
                  "%lld records, %lld calls, %lld rate limited, %.1fs%s",
                  static_cast<long long>(st.done), static_cast<long long>(lookups_),
                  static_cast<long long>(st.failed), static_cast<long long>(cached_),
                  static_cast<long long>(total_), static_cast<long long>(st.calls),
                  static_cast<long long>(st.rate_limited),
                  static_cast<double>(now - started_ms_) / 1000.0, wait);
    pg_call([&] { ereport(NOTICE, (errmsg("%s", line))); });
}

}  // namespace cv::pg

extern "C" {
PG_FUNCTION_INFO_V1(cv_batch_progress);
Datum cv_batch_progress(PG_FUNCTION_ARGS);
}

Datum cv_batch_progress(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        using namespace cv::pg;
        MaterializedResult out = begin_materialized(fcinfo);
        SharedState* s = shared_state();
        if (s == nullptr) return (Datum)0;
        for (auto& slot : s->progress) {
            SpinLockAcquire(&slot.mutex);
            ProgressSlot copy = slot;
            SpinLockRelease(&slot.mutex);
            if (copy.pid == 0 || !backend_alive(copy.pid)) continue;
            pg_call([&] {
                Datum values[17];
                bool nulls[17];
                for (bool& n : nulls) n = true;
                values[0] = Int32GetDatum(copy.pid);
                nulls[0] = false;
                values[4] = CStringGetTextDatum(phase_name(copy.phase));
                nulls[4] = false;
                // As core's progress views: another role's batch shows only
                // its pid and phase, unless the viewer has that role's
                // privileges or pg_read_all_stats.
                const Oid me = GetUserId();
                const bool visible = has_privs_of_role(me, copy.role) ||
                                     has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
                if (visible) {
                    for (int i = 1; i < 17; ++i) nulls[i] = false;
                    const char* db = get_database_name(copy.database);
                    const char* role = GetUserNameFromId(copy.role, true);
                    values[1] = db ? DirectFunctionCall1(namein, CStringGetDatum(db)) : 0;
                    nulls[1] = db == nullptr;
                    values[2] = role ? DirectFunctionCall1(namein, CStringGetDatum(role)) : 0;
                    nulls[2] = role == nullptr;
                    values[3] = CStringGetTextDatum(copy.server);
                    values[4] = CStringGetTextDatum(phase_name(copy.phase));
                    values[5] = TimestampTzGetDatum(copy.started_at);
                    const std::int64_t counts[] = {copy.total, copy.invalid, copy.cached, copy.lookups,
                                                   copy.sent,  copy.done,    copy.failed, copy.calls,
                                                   copy.retries, copy.rate_limited};
                    for (int i = 0; i < 10; ++i) values[6 + i] = Int64GetDatum(counts[i]);
                    values[16] = TimestampTzGetDatum(copy.next_call_at);
                    nulls[16] = copy.next_call_at == 0;
                }
                tuplestore_putvalues(out.store, out.desc, values, nulls);
            });
        }
        return (Datum)0;
    });
}
