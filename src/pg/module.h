#pragma once

namespace cv::pg {

// GUCs that pick the server (pg/settings.cpp).
void settings_init();

// Reserves the contractor_verify.* GUC prefix; called after every definition.
void reserve_guc_prefix();

// contractor_verify.progress_notice_interval (pg/progress.cpp).
void progress_settings_init();

// contractor_verify.worker_idle_timeout (pg/worker.cpp).
void worker_settings_init();

// contractor_verify.max_live_lookups (pg/live_lookup_budget.cpp).
void budget_settings_init();

// The batched join's planner hook and custom scan (pg/fdw_join.cpp).
void fdw_join_init();

// No parallel plans for queries that read the foreign table (pg/fdw_parallel.cpp).
void fdw_parallel_init();

// Shared memory for the rate limiter and batch progress (pg/shared_state.cpp).
void shared_state_request();

}  // namespace cv::pg
