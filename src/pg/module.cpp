// _PG_init: each subsystem registers its own GUCs and hooks.
#include "pg/core_first.h"
#include "pg/module.h"

#include "pg/launcher.h"
#include "pg/pg_headers.h"
#include "pg/worker_release.h"

extern "C" {
#include "miscadmin.h"
}

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {
    cv::pg::settings_init();
    cv::pg::progress_settings_init();
    cv::pg::worker_settings_init();
    cv::pg::launcher_settings_init();
    cv::pg::budget_settings_init();
    cv::pg::fdw_join_init();
    cv::pg::fdw_parallel_init();
    // The cluster-wide rate limiter, quota, batch progress, single flight and
    // the worker's queues need shared memory, which only a preloaded library
    // can have; without it the functions fall back to a per-session limiter,
    // record answers in the caller's transaction, and say so.
    // The launcher resumes verification jobs at server start. DROP DATABASE
    // and its kind let an idle worker go at once.
    if (process_shared_preload_libraries_in_progress) {
        cv::pg::shared_state_request();
        cv::pg::launcher_register();
        cv::pg::worker_release_init();
    }
    cv::pg::reserve_guc_prefix();
}
