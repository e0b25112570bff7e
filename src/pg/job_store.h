// The job tables (contractor_verify.job_queue, job_lookups, job_rows) as the
// extension's owner reads and writes them: schema-qualified SQL run with the
// pinned search_path, in the current transaction. cv_job_submit and
// cv_job_cancel use it in the caller's transaction; the worker in its own.
#pragma once

#include "core/batch_protocol.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/catalog.h"
#include "pg/pg_headers.h"

namespace cv::pg {

class Roster;
struct ServerContext;

// What the worker needs to run a job.
struct JobRow {
    std::int64_t id = 0;
    std::string submitted_by;
    std::string server_name;
    std::optional<std::int64_t> max_age_ms;
    std::string status;
    std::int64_t calls = 0;         // made by earlier runs (a job resumed after a restart)
    std::int64_t rate_limited = 0;
    std::int64_t lookups_needed = 0;  // expected to be bought (at submit)
    std::int64_t lookups_done = 0;    // bought so far
    int runs = 0;                     // times a worker started it before
    Oid owner = InvalidOid;           // the submitting role (contractor_verify.job_owner); invalid once gone
    std::int64_t created_ms = 0;      // when it was submitted (Unix ms)
};

// Where a job's counters stand after a chunk.
struct JobProgress {
    std::int64_t calls = 0;         // including earlier runs
    std::int64_t rate_limited = 0;
    std::optional<std::int64_t> estimated_completion_ms;  // Unix ms
};

// Extension codes of records that got no answer: rows counted as failed.
bool is_unanswered_code(const std::string& code);

// --- submitting and cancelling --------------------------------------------

struct JobSubmission {
    std::string label;  // empty: none
    std::optional<std::int64_t> max_age_ms;
    std::int64_t lookups_needed = 0;  // not answered by the cache at submit
};

// Inserts a job with its roster (rows and distinct lookups); returns its id.
std::int64_t insert_job(const ExtensionCatalog& catalog, const ServerContext& ctx,
                        const JobSubmission& job, Roster& roster);

// Wakes (or starts) the database's worker when the current transaction, which
// queued or cancelled a job, commits (pg/job_fn.cpp).
void wake_job_worker_at_commit(Oid owner);

// Lookups that queued jobs of an account (url and key fingerprint) expect to
// buy (a running job holds its own in the quota's reservations).
std::int64_t lookups_held_by_jobs(const ExtensionCatalog& catalog, const std::string& api_url,
                                  const std::string& api_key_id);

// The role that submitted a job and its status; nullopt when there is no such job.
struct JobOwnership {
    std::string submitted_by;
    std::string status;
    Oid owner = InvalidOid;  // contractor_verify.job_owner: invalid once the role is gone
};
std::optional<JobOwnership> job_ownership(const ExtensionCatalog& catalog, std::int64_t id);

// Asks the worker to cancel a job once the current transaction commits: a
// row in contractor_verify.job_cancels, nothing else written or locked.
void request_cancel(const ExtensionCatalog& catalog, std::int64_t id, const std::string& requested_by);

// The worker's side of cancel requests: queued jobs with one end as
// cancelled (with their NOTIFY at commit). A running job sees its own
// through cancel_requested.
void cancel_queued_jobs(const ExtensionCatalog& catalog);

// --- the worker's side -----------------------------------------------------

// The oldest job not finished, if any.
std::optional<JobRow> next_job(const ExtensionCatalog& catalog);
// Whether any job is queued or running.
bool has_unfinished_jobs(const ExtensionCatalog& catalog);

// Marks the job processing; returns how many of its lookups are not answered.
std::int64_t start_job(const ExtensionCatalog& catalog, std::int64_t id);

// Up to `limit` unanswered lookups with lookup_no > after, in order
// (lookup_id = lookup_no).
std::vector<core::LookupItem> pending_lookups(const ExtensionCatalog& catalog, std::int64_t id,
                                              std::int64_t after, int limit);

// Stores cv_result rows for lookups and moves the job's counters on.
void store_answers(const ExtensionCatalog& catalog, std::int64_t id,
                   const std::vector<std::int32_t>& lookup_nos, const std::vector<Datum>& results,
                   const JobProgress& progress);

// Whether cv_job_cancel asked to stop the job (or it is no longer running).
bool cancel_requested(const ExtensionCatalog& catalog, std::int64_t id);

// Ends a job (completed, failed or cancelled) and sends the NOTIFY
// (channel kJobChannel) that goes out when the transaction commits.
void finish_job(const ExtensionCatalog& catalog, std::int64_t id, const std::string& status,
                const std::string& error_code, const std::string& error_message);

// Deletes jobs that ended more than retention_ms ago, with their rows.
std::int64_t delete_finished_jobs(const ExtensionCatalog& catalog, std::int64_t retention_ms);

inline constexpr const char* kJobChannel = "contractor_verify_jobs";

// Sends {"job_id": id, "status": status} on kJobChannel at commit.
void notify_job(std::int64_t id, const std::string& status);

}  // namespace cv::pg
