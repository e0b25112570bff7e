// The worker follows pg_cron and pg_net: signal handlers, a WaitLatch loop
// that exits on postmaster death, CHECK_FOR_INTERRUPTS, a memory context reset
// on every turn, and a name in pg_stat_activity. It only ever runs the
// extension's own, schema-qualified SQL with search_path pinned.
#include "pg/core_first.h"
#include "core/batch_protocol.h"
#include "core/cache_rules.h"
#include "core/error.h"
#include "core/observation.h"
#include "core/options.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/recorder.h"
#include "pg/recorder_memory.h"
#include "pg/recorder_message.h"
#include "pg/result_row.h"
#include "pg/guard.h"
#include "pg/worker_stop.h"
#include "pg/owner_scope.h"
#include "pg/shared_state.h"
#include "pg/spi.h"
#include "pg/worker.h"
#include "pg/worker_recording.h"
#include "pg/job_runner.h"
#include "pg/job_store.h"
#include "pg/legacy_spool.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace cv::pg {

namespace {

int idle_timeout_ms = 60000;
int queue_index = -1;

// Records (or sets aside) a message, read where it lies in shared memory;
// false when it has vanished (nothing left to free).
bool handle(const RecorderEntry& entry) {
    const MessageView view(entry.message);
    if (!view.found()) {
        pg_call([] { ereport(LOG, (errmsg("contractor_verify worker: a queued message vanished"))); });
        return false;
    }
    std::optional<std::string> error;
    std::optional<RecorderMessage> message;
    try {
        message = decode_message(view.data(), view.size());
    } catch (const std::exception& e) {
        error = std::string("unreadable message: ") + e.what();
    }
    if (message) error = record(*message);
    if (error) {
        // Kept readable: the message as JSON when it could be read, else as it came.
        std::string kept;
        if (message) {
            try {
                kept = message_as_json(*message);
            } catch (...) {
            }
        }
        if (kept.empty()) kept.assign(view.data(), view.size());
        if (!set_aside(kept, message ? &*message : nullptr, *error))
            pg_call([&] {
                ereport(LOG, (errmsg("contractor_verify worker dropped a message it could neither record nor "
                                     "set aside: %s", error->c_str())));
            });
    }
    return true;
}

void detach_from_queue(int, Datum) {
    SharedState* s = shared_state();
    if (s == nullptr || queue_index < 0) return;
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    RecorderQueue& q = s->recorders[queue_index];
    if (q.worker_pid == MyProcPid) {
        q.worker_pid = 0;
        q.worker_latch = nullptr;
        // A database with jobs keeps its slot: the launcher starts a worker again.
        if (q.count == 0 && !q.has_jobs) q.database = InvalidOid;
    }
    LWLockRelease(s->recorder_lock);
    ConditionVariableBroadcast(&s->settled);
}

// Records the message at the head of the queue, if any; false when the queue is empty.
bool record_next_message() {
    SharedState* s = shared_state();
    RecorderQueue& q = s->recorders[queue_index];
    bool have = false;
    RecorderEntry entry{};
    pg_call([&] {
        LWLockAcquire(s->recorder_lock, LW_SHARED);
        if (q.count > 0) {
            have = true;
            entry = q.ring[q.head];
        }
        LWLockRelease(s->recorder_lock);
    });
    if (!have) return false;
    bool stored = false;
    {
        RecordingScope recording;
        stored = handle(entry);
    }
    pg_call([&] {
        LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
        if (q.count > 0 && q.ring[q.head].ticket == entry.ticket) {
            q.head = (q.head + 1) % kRecorderRing;
            --q.count;
            q.done_ticket = entry.ticket;
        }
        LWLockRelease(s->recorder_lock);
        ConditionVariableBroadcast(&s->settled);
    });
    // Freed once off the queue: a worker that took the entry again must
    // never find its memory reused by another message.
    if (stored) free_message(entry.message);
    return true;
}

// Told to stop (a fast shutdown, pg_terminate_backend): records the messages
// queued by then (not those handed over meanwhile; a new worker takes those),
// then leaves as Postgres's die() has it. Bounded: one attempt per message
// (each recording's scope holds the pending termination over, so it is not
// retried) with a 1 s lock_timeout (a message that cannot be recorded then is
// set aside), and none begun after 5 s (what is left stays queued).
void leave_on_stop() {
    try {
        if (queue_index >= 0) {
            SharedState* s = shared_state();
            int queued = 0;
            TimestampTz started = 0;
            pg_call([&] {
                SetConfigOption("lock_timeout", "1s", PGC_SUSET, PGC_S_OVERRIDE);
                started = GetCurrentTimestamp();
                LWLockAcquire(s->recorder_lock, LW_SHARED);
                queued = s->recorders[queue_index].count;
                LWLockRelease(s->recorder_lock);
            });
            for (int i = 0; i < queued && !TimestampDifferenceExceeds(started, GetCurrentTimestamp(), 5000) &&
                            record_next_message();
                 ++i) {
            }
        }
    } catch (...) {
        // What is left stays queued for the next worker.
    }
    pg_call([] {
        ProcDiePending = true;
        InterruptPending = true;
        CHECK_FOR_INTERRUPTS();
    });
}

void set_has_jobs(bool has) {
    SharedState* s = shared_state();
    pg_call([&] {
        LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
        RecorderQueue& q = s->recorders[queue_index];
        // A job queued after the look began keeps the database marked.
        q.has_jobs = has || q.jobs_changed;
        LWLockRelease(s->recorder_lock);
    });
}

void reload_config_if_asked() {
    pg_call([] {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
    });
}

// The oldest unfinished job (and, at most hourly, jobs past their retention
// deleted); nullopt when there is none or the extension cannot run jobs here.
std::optional<JobRow> find_job(TimestampTz& last_cleanup) {
    std::optional<JobRow> job;
    try {
        begin();
        const ExtensionCatalog& catalog = extension_catalog();
        if (TimestampDifferenceExceeds(last_cleanup, GetCurrentTimestamp(), 3600 * 1000)) {
            last_cleanup = GetCurrentTimestamp();
            (void)delete_finished_jobs(catalog, job_retention_ms());
        }
        cancel_queued_jobs(catalog);
        job = next_job(catalog);
        commit();
    } catch (const std::exception& e) {
        // Not installed here, or not updated to this library's version: no
        // jobs. Anything else is worth a line in the log. (The message is
        // copied first: a Postgres error's text goes with the transaction.)
        const auto* error = dynamic_cast<const core::Error*>(&e);
        const int level = error != nullptr && error->kind() == core::ErrorKind::MissingConfig ? DEBUG1 : WARNING;
        const std::string message = e.what();
        abort_transaction();
        pg_call([&] { ereport(level, (errmsg("contractor_verify worker could not look for jobs: %s", message.c_str()))); });
        return std::nullopt;
    }
    return job;
}

void run(int index, const WorkerStartArgs& args) {
    SharedState* s = shared_state();
    RecorderQueue& q = s->recorders[index];
    bool mine = false;
    pg_call([&] {
        LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
        if (q.database == args.database && (q.worker_pid == 0 || q.worker_pid == MyProcPid)) {
            q.worker_pid = MyProcPid;
            q.worker_latch = MyLatch;
            q.starting = false;
            mine = true;
        }
        LWLockRelease(s->recorder_lock);
    });
    if (!mine) return;  // another worker serves this database
    queue_index = index;
    before_shmem_exit(detach_from_queue, 0);
    // Answers 0.1.0 left behind, once, before anything else.
    import_legacy_spool();

    MemoryContext turn = nullptr;
    pg_call([&] {
        turn = AllocSetContextCreate(TopMemoryContext, "contractor_verify worker turn",
                                     ALLOCSET_DEFAULT_SIZES);
    });
    // While a job runs, the worker records what backends hand over between
    // the job's steps.
    const std::function<void()> between = [&] {
        reload_config_if_asked();
        for (int i = 0; i < 8 && record_next_message(); ++i) {
        }
    };
    TimestampTz last_work = 0, last_cleanup = 0, last_job_check = 0;
    pg_call([&] { last_work = GetCurrentTimestamp(); });
    bool look_for_jobs = true;
    for (;;) {
        // Told to stop (a fast shutdown, pg_terminate_backend): the messages
        // queued by then are recorded first (their answers are paid for), then
        // the worker leaves as Postgres's own SIGTERM handling would have it.
        if (ProcDiePending) leave_on_stop();
        pg_call([&] {
            CHECK_FOR_INTERRUPTS();
            MemoryContextReset(turn);
            MemoryContextSwitchTo(turn);
        });
        reload_config_if_asked();
        const bool recorded = record_next_message();
        if (recorded) {
            pg_call([&] { last_work = GetCurrentTimestamp(); });
            // Under a steady stream of messages, jobs are still looked for
            // once a second.
            if (ProcDiePending || !TimestampDifferenceExceeds(last_job_check, GetCurrentTimestamp(), 1000))
                continue;
        }
        if (look_for_jobs || TimestampDifferenceExceeds(last_job_check, GetCurrentTimestamp(), 1000)) {
            look_for_jobs = false;
            pg_call([&] { last_job_check = GetCurrentTimestamp(); });
            std::optional<JobRow> job = find_job(last_cleanup);
            set_has_jobs(job.has_value());
            if (job) {
                pgstat_report_activity(STATE_RUNNING, ("running job " + std::to_string(job->id)).c_str());
                run_job(*job, between);
                pgstat_report_activity(STATE_IDLE, nullptr);
                pg_call([&] { last_work = GetCurrentTimestamp(); });
                look_for_jobs = true;
                continue;
            }
            if (args.probe) {
                // Started by the launcher to look for jobs: none, and no answers to record.
                bool idle_now = false;
                pg_call([&] {
                    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
                    if (q.count == 0 && !q.has_jobs && !q.jobs_changed) {
                        q.worker_pid = 0;
                        q.worker_latch = nullptr;
                        q.database = InvalidOid;
                        idle_now = true;
                    }
                    LWLockRelease(s->recorder_lock);
                });
                if (idle_now) return;
            }
        }
        if (recorded) continue;  // more may be queued: no leaving, no waiting
        bool leave = false;
        pg_call([&] {
            LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
            if (q.count == 0 && !q.has_jobs && !q.jobs_changed &&
                (q.leave_when_idle ||
                 TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), idle_timeout_ms))) {
                // Idle: leave (at once when a statement needs the database to
                // itself); a backend with answers to record or a job to run
                // starts a new worker.
                q.worker_pid = 0;
                q.worker_latch = nullptr;
                q.database = InvalidOid;
                q.leave_when_idle = false;
                leave = true;
            }
            LWLockRelease(s->recorder_lock);
        });
        if (leave) return;
        pg_call([&] {
            // What is left of the statistics, at most once a second as after
            // a commit (the queue drains after each message of a batch, and
            // the wait ends within half a second).
            (void)pgstat_report_stat(false);
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 500, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            // Woken by a message, a job queued or cancelled, or a statement
            // that needs the database. Jobs are looked for at once only when
            // one was queued or cancelled (otherwise once a second): a batch's
            // every message would cost a transaction that finds none.
            LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
            if (q.jobs_changed) look_for_jobs = true;
            q.jobs_changed = false;
            LWLockRelease(s->recorder_lock);
        });
    }
}

}  // namespace

void worker_settings_init() {
    DefineCustomIntVariable(
        "contractor_verify.worker_idle_timeout",
        "How long a database's contractor_verify worker waits for work before it exits.",
        "A backend starts a new one when it has answers to record. An idle worker leaves at "
        "once when DROP DATABASE, ALTER DATABASE ... RENAME TO or SET TABLESPACE, or CREATE "
        "DATABASE ... TEMPLATE needs its database.",
        &idle_timeout_ms, 60000, 100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    job_settings_init();
}

}  // namespace cv::pg

void cv_worker_main(Datum arg) {
    const int index = DatumGetInt32(arg);
    cv::pg::WorkerStartArgs args;
    std::memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof args);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, cv::pg::worker_sigterm);
    BackgroundWorkerUnblockSignals();
    // Connected as the bootstrap superuser (it always exists and may log in,
    // whatever the extension's owner may); every statement the worker runs
    // switches to the owner (with_owner_spi).
    BackgroundWorkerInitializeConnectionByOid(args.database, BOOTSTRAP_SUPERUSERID, 0);
    pgstat_report_appname("contractor_verify worker");
    // The database's and roles' settings do not decide how answers are
    // recorded: writable transactions, no statement or idle timeouts, a
    // bounded wait for row locks (a message that keeps waiting is set aside),
    // and a commit that is on disk when the backend is told it is recorded
    // (synchronous_commit = off would lose paid answers in a crash).
    static const char* const kPinned[][2] = {
        {"search_path", cv::pg::kPinnedSearchPath},
        {"default_transaction_read_only", "off"},
        {"default_transaction_isolation", "read committed"},
        {"default_transaction_deferrable", "off"},
        {"statement_timeout", "0"},
        {"idle_in_transaction_session_timeout", "0"},
        {"lock_timeout", "5s"},
        {"session_replication_role", "origin"},
        {"synchronous_commit", "local"},
    };
    for (const auto& [name, value] : kPinned) SetConfigOption(name, value, PGC_SUSET, PGC_S_OVERRIDE);
    if (cv::pg::shared_state() == nullptr || index < 0 || index >= cv::pg::kRecorderDatabases)
        proc_exit(1);
    cv::pg::CapturedError err;
    try {
        cv::pg::run(index, args);
    } catch (...) {
        cv::pg::capture_exception(err, std::current_exception());
    }
    // Told to stop (a fast shutdown, pg_terminate_backend): the usual message.
    if (err.set && err.kind == cv::core::ErrorKind::Aborted && ProcDiePending) cv::pg::leave_on_stop();
    if (err.set) cv::pg::raise_captured(err);  // FATAL for a worker: it exits, a backend starts another
    proc_exit(0);
}
