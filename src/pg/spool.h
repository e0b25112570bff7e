// Paid-for answers survive a transaction that does not commit.
//
// Answers are written to the cache and history in the caller's transaction,
// so a cancel, an error later in the statement, or a crash would roll back
// lookups the API has already charged for. Before each recording reaches the
// tables it is appended to a spool file named by the (sub)transaction id,
// under $PGDATA/pg_contractor_verify/<database>/. When that transaction
// commits the file is deleted. Otherwise it stays, and the next lookup in the
// database (or contractor_verify.recover_answers()) claims it by renaming it
// to its own transaction and imports it; the claimed file then follows the
// importing transaction's fate the same way.
#pragma once

#include <cstdint>
#include <string>

#include "pg/catalog.h"
#include "pg/pg_headers.h"

namespace cv::pg {

// Registers the transaction callbacks (from _PG_init).
void spool_init();

// Keeps a recording (the observations document) until the current
// transaction commits.
void spool_append(const std::string& document);

// Imports the recordings of transactions that ended without committing into
// the current transaction, as `owner`; returns how many answers came back.
// Does nothing in a read-only transaction.
std::int64_t spool_recover(const ExtensionCatalog& catalog);

}  // namespace cv::pg
