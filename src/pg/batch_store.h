#pragma once

#include "core/batch_protocol.h"
#include "core/observation.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/pg_headers.h"
#include "pg/srf.h"
#include "pg/storage.h"

namespace cv::pg {

// The temporary tables of one batch, so that deduplication, planning and the
// final join run in Postgres (spilling to disk as needed) rather than in this
// process's memory:
//   pg_temp.cv_batch_roster   one row per input row, normalized, in input order
//   pg_temp.cv_batch_lookups  one row per distinct key not answered by the cache
//   pg_temp.cv_batch_results  the answer for each lookup
// The roster is loaded as the caller (it runs the caller's query); everything
// else runs as the extension's owner.
class BatchStore {
public:
    BatchStore(Storage& storage, const ServerContext& ctx);

    // (id, state, license_number[, name]) rows of a query.
    void load_query(const std::string& query);
    // A JSON array of {"id", "state", "license_number" | "name"}.
    void load_json(Datum roster);

    struct Plan {
        std::int64_t total = 0, invalid = 0, cached = 0, lookups = 0;
    };
    Plan plan(std::optional<Datum> max_age);

    // The next `max` lookups after the last one returned.
    std::vector<core::LookupItem> next_lookups(std::size_t max);

    // A chunk's observations: into the cache and history, answers kept for the output.
    void record(std::vector<core::Observation>& observations);

    // One cv_result per roster row, in input order, with the caller's id.
    void emit(const MaterializedResult& out);

    void drop();

private:
    Storage& storage_;
    const ServerContext& ctx_;
    std::int64_t last_lookup_id_ = 0;
};

}  // namespace cv::pg
