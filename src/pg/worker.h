// The contractor_verify worker: one per database while it has work, started
// on demand by the backends of that database (a dynamic background worker),
// recording the answers they hand over in short transactions of its own.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// What a backend passes to the worker it starts (bgw_extra).
struct WorkerStartArgs {
    Oid database;
    Oid owner;  // the extension's owner: whom the worker connects as
    bool probe; // started by the launcher: exit at once when there is nothing to do
};

// contractor_verify.worker_idle_timeout (pg/worker.cpp).
void worker_settings_init();

}  // namespace cv::pg

extern "C" {
PGDLLEXPORT void cv_worker_main(Datum arg);
}
