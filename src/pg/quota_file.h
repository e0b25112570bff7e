// Each API account's count of the month's lookups, kept in
// $PGDATA/pg_contractor_verify_quota (format: core/quota_file.h) so that it
// outlives shared memory: a restart, a crash of any backend (the postmaster
// then reinitializes shared memory) or an immediate shutdown.
//
// The file is rewritten whole (a temporary file, fsync, durable_rename) from
// shared memory merged with what it held, so accounts no longer in shared
// memory keep their count and other months drop out. The quota guard has it
// rewritten at most once a second while a statement charges, and at the end
// of every statement that charged unless a rewrite since already holds its
// charges: a crash misses at most the last second of charges of statements
// still running.
//
// Nothing here fails a lookup: a file that cannot be read or is damaged is
// ignored and rewritten, a write that fails leaves a WARNING with the error,
// and the next rewrite tries again.
#pragma once

#include <cstdint>

#include "pg/shared_state.h"

namespace cv::pg {

// What the file says `account` was charged in `month`: 0 when there is no
// file. When it cannot be read or is damaged: 0, with `unreadable` set (the
// caller has it rewritten, which says why in a WARNING).
std::int64_t saved_quota_count(std::uint64_t account, std::int32_t month, bool& unreadable);

// Rewrites the file from shared memory, unless a rewrite since charge number
// `charge` (SharedState::quota_charges) already holds it; 0: in any case.
// Waits for a rewrite under way. Call with no shared-state lock held. False
// when it could not, after a message at `elevel` (WARNING, or LOG for the
// server log alone) saying why.
bool save_quota_counts(SharedState* s, std::uint64_t charge, int elevel) noexcept;

}  // namespace cv::pg
