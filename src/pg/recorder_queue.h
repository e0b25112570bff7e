// Handing answers to the database's worker, which records them in
// transactions of its own: a caller's rollback, error or cancel cannot take
// an answer with it, and the caller holds no lock on the extension's tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pg/pg_headers.h"

namespace cv::pg {

// Whether answers can be handed over (the library was preloaded and a worker
// runs or can be started for this database). Starts one when needed; warns
// once per session when none can be started.
bool recorder_ready(Oid owner);

// Hands one message (a chunk's observations) to this database's worker.
// nullopt when the queue is full: keep it and try again.
std::optional<std::uint64_t> hand_over(const std::string& message, Oid owner);

// Whether the worker has recorded (or set aside) the message with this ticket.
bool recorded(std::uint64_t ticket);

// Whether this database's worker is running (or starting).
bool recorder_running();

// Sleeps until something is recorded or a lookup in flight is released, at
// most timeout_ms; throws on cancel. Restarts this database's worker if it
// has gone away with work left.
void wait_for_recording(long timeout_ms, Oid owner);

// A transaction that queued or cancelled a job committed: the database keeps
// a worker while it has jobs; starts or wakes it. Never raises (it runs in a
// commit callback).
void jobs_committed(Oid owner) noexcept;

// For the launcher: starts a probing worker for a database (it exits at once
// when the database has nothing for it); false when none was started.
bool start_database_worker(Oid database);
struct DatabaseWork {
    bool worker_running = false;
    bool has_jobs = false;
};
DatabaseWork database_work(Oid database);
// Frees the queues of databases that no longer exist (dropped with answers
// queued or jobs unfinished). Needs a transaction (reads pg_database).
void reclaim_dropped_databases();
// Starts a worker again for each database with jobs whose worker is gone (at
// most once per min_interval_ms each).
void restart_job_workers(long min_interval_ms);

// The worker's side.
struct RecorderWork {
    std::uint64_t ticket;
    std::string message;
};

}  // namespace cv::pg
