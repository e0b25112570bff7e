// Running one verification job in the database's worker: the job's pending
// lookups, cache first and single-flighted, in chunks through the batch
// runner under the cluster-wide rate limiter, with the credentials of the
// role that submitted it. Each chunk's answers are committed with the job's
// progress in one short transaction (cache, history, job rows, counters), so
// a crash loses at most the chunks in flight, and a resumed job never sends
// a record already answered.
#pragma once

#include <functional>

#include "pg/job_store.h"

namespace cv::pg {

// Runs `job` to its end (completed, failed or cancelled, with the NOTIFY).
// `between` runs on every turn while calls are in flight or awaited (the
// worker records what backends handed over there); no transaction is open
// when it runs. Throws Error(Aborted) on shutdown: the job stays processing
// and resumes where it stopped when a worker next runs.
void run_job(const JobRow& job, const std::function<void()>& between);

// contractor_verify.job_retention (pg/job_runner.cpp), in ms.
void job_settings_init();
std::int64_t job_retention_ms();

}  // namespace cv::pg
