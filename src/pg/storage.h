#pragma once

#include "core/observation.h"

#include <optional>
#include <string>
#include <vector>

#include "pg/pg_headers.h"
#include "pg/server_context.h"

namespace cv::pg {

// A key to look up in the cache: (state, license_number), echoed id.
struct CacheKey {
    std::string state;
    std::string license_number;
    std::string id;
};

// The extension's tables, reached through SPI as the extension's owner (so
// callers need no privilege on them, and cannot write them directly). Result
// rows come back as cv_result composite Datums in the caller's memory context.
class Storage {
public:
    explicit Storage(const ServerContext& ctx);

    // Fresh cache entries for keys, as (index into keys, cv_result Datum).
    // max_age: an Interval Datum asking for fresher data than the TTL.
    std::vector<std::pair<std::size_t, Datum>> fresh(const std::vector<CacheKey>& keys,
                                                     std::optional<Datum> max_age);

    // Refuses (before anything is sent) `needed` lookups that would cross the
    // server's monthly_lookup_quota.
    void check_quota(std::int64_t needed);

    // The observations as the document record_observations reads, kept in the
    // spool (pg/spool.h) before it goes anywhere near the tables.
    std::string spooled_document(const std::vector<core::Observation>& observations) const;

    // record_observations' parameters ($1 server, $2 role, $3 the document,
    // $4 timeouts before review); call inside with_spi.
    void recording_params(const std::string& document, Oid types[4], Datum values[4]) const;

    Oid owner() const { return owner_; }

    // The owner of the extension's tables, whom the functions act as.
    static Oid table_owner();
    const std::string& role() const { return role_; }

    // Throws before any API call when answers could not be stored (a
    // read-only transaction or a standby): a paid-for answer is never dropped.
    static void ensure_writable();

    // Records observations in history and cache; returns one cv_result Datum
    // per answer (attempt_only observations give none), in order.
    std::vector<Datum> record(const std::vector<core::Observation>& observations);

private:
    const ServerContext& ctx_;
    Oid owner_ = InvalidOid;
    std::string role_;
};

}  // namespace cv::pg
