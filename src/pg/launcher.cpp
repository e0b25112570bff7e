// The launcher: one background worker for the cluster, registered at
// preload. At server start (and after a crash restart) it looks into every
// database (or those contractor_verify.databases names) for jobs left
// queued or running, one probing worker at a time, so jobs resume without
// anyone connecting. Then it watches: a database whose jobs lost their worker
// (terminated, or failed) gets one again. The pg_cron shape: signal handlers,
// a WaitLatch loop that ends with the postmaster, a memory context reset per
// turn, its own name in pg_stat_activity.
#include "pg/core_first.h"

#include <cstring>
#include <string>
#include <vector>

#include "pg/launcher.h"

#include "pg/guard.h"
#include "pg/recorder_queue.h"
#include "pg/shared_state.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"
}

namespace cv::pg {

namespace {

char* databases_setting = nullptr;

// A database's probe may take this long before the launcher moves on.
constexpr long kProbeTimeoutMs = 30000;
// A database with jobs whose worker is gone gets a new one at most this often.
constexpr long kRestartIntervalMs = 5000;

struct Database {
    Oid oid;
    std::string name;
};

// Databases that accept connections (templates excluded), as the catalog says now.
std::vector<Database> list_databases() {
    std::vector<Database> out;
    StartTransactionCommand();
    (void)GetTransactionSnapshot();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        const Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
        if (!db->datallowconn || db->datistemplate) continue;
        out.push_back({db->oid, NameStr(db->datname)});
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    return out;
}

// Whether contractor_verify.databases names the database ('*': every one).
bool wanted(const std::string& name) {
    const std::string setting = databases_setting != nullptr ? databases_setting : "*";
    if (setting == "*") return true;
    char* copy = pstrdup(setting.c_str());
    List* names = nullptr;
    bool found = false;
    if (SplitIdentifierString(copy, ',', &names)) {
        ListCell* cell;
        foreach (cell, names)
            if (name == static_cast<const char*>(lfirst(cell))) found = true;
    }
    list_free(names);
    pfree(copy);
    return found;
}

void wait_ms(long ms) {
    const int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    (void)rc;
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
        ConfigReloadPending = false;
        ProcessConfigFile(PGC_SIGHUP);
    }
}

// One database at a time: its worker looks for jobs, runs them if any, and
// exits at once if there are none.
void probe_databases(MemoryContext turn) {
    MemoryContextReset(turn);
    MemoryContext old = MemoryContextSwitchTo(turn);
    std::vector<Database> databases = list_databases();
    for (const Database& db : databases) {
        if (!wanted(db.name)) continue;
        if (!start_database_worker(db.oid)) continue;
        const TimestampTz since = GetCurrentTimestamp();
        // Until it has decided: running jobs (it stays), or gone (nothing here).
        for (DatabaseWork work = database_work(db.oid); work.worker_running && !work.has_jobs;
             work = database_work(db.oid)) {
            if (TimestampDifferenceExceeds(since, GetCurrentTimestamp(), kProbeTimeoutMs)) break;
            wait_ms(50);
        }
    }
    MemoryContextSwitchTo(old);
}

}  // namespace

void launcher_settings_init() {
    DefineCustomStringVariable(
        "contractor_verify.databases",
        "Databases whose unfinished jobs the launcher resumes at server start.",
        "'*' (the default) looks into every database that accepts connections; otherwise a "
        "comma-separated list of database names.",
        &databases_setting, "*", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
}

void launcher_register() {
    BackgroundWorker worker;
    std::memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 10;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "contractor_verify");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "cv_launcher_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "contractor_verify launcher");
    snprintf(worker.bgw_type, BGW_MAXLEN, "contractor_verify launcher");
    RegisterBackgroundWorker(&worker);
}

}  // namespace cv::pg

void cv_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    // No database: the shared catalogs (pg_database) are all it reads.
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    pgstat_report_appname("contractor_verify launcher");
    if (cv::pg::shared_state() == nullptr) proc_exit(0);
    MemoryContext turn = AllocSetContextCreate(TopMemoryContext, "contractor_verify launcher turn",
                                               ALLOCSET_DEFAULT_SIZES);
    cv::pg::probe_databases(turn);
    for (;;) {
        MemoryContextReset(turn);
        StartTransactionCommand();
        cv::pg::reclaim_dropped_databases();
        CommitTransactionCommand();
        cv::pg::restart_job_workers(cv::pg::kRestartIntervalMs);
        cv::pg::wait_ms(1000);
    }
}
