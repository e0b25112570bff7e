// Statements that need a database to themselves (DROP DATABASE, ALTER
// DATABASE ... RENAME TO or SET TABLESPACE, and CREATE DATABASE for its
// template, template1 unless named) wait up to 5 seconds for other sessions
// to leave it, then fail. The database's contractor_verify worker counts as
// one: when a role that may run the statement runs it (the database's owner
// or a superuser; for CREATE DATABASE, a role that may create databases), a
// utility hook asks the worker to leave at once when it has nothing left to
// record or run, instead of after worker_idle_timeout.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// Installs the utility hook (from _PG_init, with the preload).
void worker_release_init();

// Asks the database's worker to exit as soon as it is idle (pg/worker.cpp
// honours it); nothing when no worker serves the database.
void release_worker_of(Oid database);

}  // namespace cv::pg
