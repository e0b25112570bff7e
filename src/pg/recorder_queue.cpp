#include "pg/core_first.h"
#include "core/error.h"

#include "pg/recorder_queue.h"

#include <cstring>

#include "pg/guard.h"
#include "pg/shared_state.h"
#include "pg/worker.h"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace cv::pg {

namespace {

// A worker registered but not attached after this long is taken as failed to start.
constexpr long kStartTimeoutMs = 10000;

// A database's queue; claims a free one when `create`. Call with the
// recorder lock held.
RecorderQueue* queue_for(SharedState* s, Oid database, bool create) {
    RecorderQueue* free_slot = nullptr;
    for (auto& q : s->recorders) {
        if (q.database == database) return &q;
        if (q.database == InvalidOid && free_slot == nullptr) free_slot = &q;
    }
    if (!create || free_slot == nullptr) return nullptr;
    std::memset(static_cast<void*>(free_slot), 0, sizeof(RecorderQueue));
    free_slot->database = database;
    free_slot->done_ticket = s->next_ticket - 1;
    return free_slot;
}

RecorderQueue* queue_of(SharedState* s, bool create) { return queue_for(s, MyDatabaseId, create); }

// Frees the queues of databases that were dropped with answers still queued
// (DROP DATABASE ... WITH (FORCE) ends their worker): their messages are
// freed, their slots reused. Takes and releases the recorder lock.
void reclaim_dropped(SharedState* s) {
    Oid dbs[kRecorderDatabases];
    LWLockAcquire(s->recorder_lock, LW_SHARED);
    for (int i = 0; i < kRecorderDatabases; ++i) dbs[i] = s->recorders[i].database;
    LWLockRelease(s->recorder_lock);
    bool gone[kRecorderDatabases] = {};
    for (int i = 0; i < kRecorderDatabases; ++i)
        gone[i] = OidIsValid(dbs[i]) && !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[i]));
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    for (int i = 0; i < kRecorderDatabases; ++i) {
        RecorderQueue& q = s->recorders[i];
        if (!gone[i] || q.database != dbs[i] || q.worker_pid != 0) continue;
        for (int k = 0; k < q.count; ++k) free_message(q.ring[(q.head + k) % kRecorderRing].message);
        q.count = 0;
        q.database = InvalidOid;
        q.starting = false;
    }
    LWLockRelease(s->recorder_lock);
}

}  // namespace

void reclaim_dropped_databases() {
    if (SharedState* s = shared_state()) pg_call([&] { reclaim_dropped(s); });
}

namespace {

bool worker_alive(const RecorderQueue& q) {
    if (q.worker_pid != 0) return true;
    if (!q.starting) return false;
    return !TimestampDifferenceExceeds(q.start_requested_at, GetCurrentTimestamp(), kStartTimeoutMs);
}

// Registers a worker for q's database unless one runs. Call with the
// recorder lock held; false when none could be registered. A probing worker
// exits at once when its database has nothing for it.
bool start_worker(SharedState* s, RecorderQueue& q, Oid owner, bool probe = false) {
    if (worker_alive(q)) return true;
    BackgroundWorker worker;
    std::memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "contractor_verify");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "cv_worker_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "contractor_verify worker for database %u", q.database);
    snprintf(worker.bgw_type, BGW_MAXLEN, "contractor_verify worker");
    const int index = static_cast<int>(&q - s->recorders);
    worker.bgw_main_arg = Int32GetDatum(index);
    WorkerStartArgs args{q.database, owner, probe};
    static_assert(sizeof args <= BGW_EXTRALEN, "worker arguments fit bgw_extra");
    std::memcpy(worker.bgw_extra, &args, sizeof args);
    worker.bgw_notify_pid = 0;
    if (!RegisterDynamicBackgroundWorker(&worker, nullptr)) return false;
    q.owner = owner;
    q.starting = true;
    q.start_requested_at = GetCurrentTimestamp();
    return true;
}

void warn_no_worker(bool no_slot) {
    static bool warned = false;
    if (warned) return;
    warned = true;
    ereport(WARNING,
            (errmsg("could not start a contractor_verify worker: answers are recorded in the "
                    "caller's transaction"),
             errdetail("A rollback of that transaction discards answers the API charged for."),
             no_slot ? errhint("%d databases have a contractor_verify worker at once, the most "
                               "there can be; wait until one is idle.",
                               kRecorderDatabases)
                     : errhint("Raise max_worker_processes (a server restart is needed), and leave "
                               "room beside max_parallel_workers.")));
}

}  // namespace

bool recorder_ready(Oid owner) {
    SharedState* s = shared_state();
    if (s == nullptr) return false;
    bool ready = false;
    pg_call([&] {
        bool no_slot = false;
        for (int attempt = 0; attempt < 2 && !ready; ++attempt) {
            if (attempt > 0) reclaim_dropped(s);
            LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
            RecorderQueue* q = queue_of(s, true);
            no_slot = q == nullptr;
            ready = q != nullptr && start_worker(s, *q, owner);
            LWLockRelease(s->recorder_lock);
            if (!no_slot) break;
        }
        if (!ready) warn_no_worker(no_slot);
    });
    return ready;
}

std::optional<std::uint64_t> hand_over(const std::string& message, Oid owner) {
    SharedState* s = shared_state();
    if (s == nullptr) throw core::Error(core::ErrorKind::Internal, "no shared memory to hand answers over");
    // The message stays in shared memory until the worker has recorded it.
    StoredMessage stored;
    if (!store_message(message, stored)) return std::nullopt;  // no room for now: try again later
    std::optional<std::uint64_t> ticket;
    auto enqueue = [&] {
        Latch* wake = nullptr;
        LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
        RecorderQueue* q = queue_of(s, true);
        if (q != nullptr && q->count < kRecorderRing) {
            const std::uint64_t t = s->next_ticket++;
            q->ring[(q->head + q->count) % kRecorderRing] = {stored, t};
            ++q->count;
            ticket = t;
            if (!worker_alive(*q)) (void)start_worker(s, *q, owner);
            wake = q->worker_latch;
        }
        LWLockRelease(s->recorder_lock);
        if (wake != nullptr) SetLatch(wake);
    };
    try {
        pg_call(enqueue);
    } catch (...) {
        if (!ticket) free_message(stored);
        throw;
    }
    if (!ticket) free_message(stored);  // not queued: nobody will read it
    return ticket;
}

bool start_database_worker(Oid database) {
    SharedState* s = shared_state();
    if (s == nullptr) return false;
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    RecorderQueue* q = queue_for(s, database, true);
    const bool started = q != nullptr && !worker_alive(*q) && start_worker(s, *q, InvalidOid, true);
    LWLockRelease(s->recorder_lock);
    return started;
}

DatabaseWork database_work(Oid database) {
    DatabaseWork work;
    SharedState* s = shared_state();
    if (s == nullptr) return work;
    LWLockAcquire(s->recorder_lock, LW_SHARED);
    if (RecorderQueue* q = queue_for(s, database, false)) {
        work.worker_running = worker_alive(*q);
        work.has_jobs = q->has_jobs;
    }
    LWLockRelease(s->recorder_lock);
    return work;
}

void restart_job_workers(long min_interval_ms) {
    SharedState* s = shared_state();
    if (s == nullptr) return;
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    for (auto& q : s->recorders) {
        if (q.database == InvalidOid || !q.has_jobs || worker_alive(q)) continue;
        if (!TimestampDifferenceExceeds(q.start_requested_at, GetCurrentTimestamp(), static_cast<int>(min_interval_ms)))
            continue;
        (void)start_worker(s, q, q.owner);
    }
    LWLockRelease(s->recorder_lock);
}

void jobs_committed(Oid owner) noexcept {
    SharedState* s = shared_state();
    if (s == nullptr) return;
    Latch* wake = nullptr;
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    RecorderQueue* q = queue_of(s, true);
    if (q != nullptr) {
        q->has_jobs = true;
        q->jobs_changed = true;
        if (!worker_alive(*q)) (void)start_worker(s, *q, owner);
        wake = q->worker_latch;
    }
    LWLockRelease(s->recorder_lock);
    if (wake != nullptr) SetLatch(wake);
}

bool recorded(std::uint64_t ticket) {
    SharedState* s = shared_state();
    if (s == nullptr) return true;
    // The worker takes an entry off its queue once it is recorded. Plain
    // calls that do not raise: this also runs while an error unwinds.
    bool done = true;
    LWLockAcquire(s->recorder_lock, LW_SHARED);
    for (auto& q : s->recorders) {
        if (q.database != MyDatabaseId) continue;
        for (int i = 0; i < q.count && done; ++i)
            if (q.ring[(q.head + i) % kRecorderRing].ticket == ticket) done = false;
    }
    LWLockRelease(s->recorder_lock);
    return done;
}

bool recorder_running() {
    SharedState* s = shared_state();
    if (s == nullptr) return false;
    bool running = false;
    pg_call([&] {
        LWLockAcquire(s->recorder_lock, LW_SHARED);
        RecorderQueue* q = queue_of(s, false);
        running = q != nullptr && worker_alive(*q);
        LWLockRelease(s->recorder_lock);
    });
    return running;
}

void wait_for_recording(long timeout_ms, Oid owner) {
    SharedState* s = shared_state();
    if (s == nullptr) return;
    throw_if_interrupted();
    pg_call([&] {
        // A worker that went away with work left is replaced.
        LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
        RecorderQueue* q = queue_of(s, false);
        if (q != nullptr && q->count > 0 && !worker_alive(*q)) (void)start_worker(s, *q, owner);
        LWLockRelease(s->recorder_lock);
        // Without a prepared sleep, ConditionVariableTimedSleep only prepares
        // one and returns at once: the caller's loop would spin on a CPU for
        // as long as it waits. (A broadcast before the prepare is missed; the
        // timeout bounds what that costs.)
        ConditionVariablePrepareToSleep(&s->settled);
        ConditionVariableTimedSleep(&s->settled, timeout_ms, PG_WAIT_EXTENSION);
        ConditionVariableCancelSleep();
    });
    throw_if_interrupted();
}

}  // namespace cv::pg
