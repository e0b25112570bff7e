// The cluster's contractor_verify launcher (pg/launcher.cpp): resumes jobs at
// server start and keeps a worker for every database with jobs.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// contractor_verify.databases.
void launcher_settings_init();

// Registers the launcher; call from _PG_init while preloading.
void launcher_register();

}  // namespace cv::pg

extern "C" {
PGDLLEXPORT void cv_launcher_main(Datum arg);
}
