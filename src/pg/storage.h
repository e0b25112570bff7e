// The extension's tables as one lookup statement uses them: the cache read
// directly, answers recorded by the rules of core/cache_rules, the quota.
#pragma once

#include "core/observation.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/recorder.h"
#include "pg/result_row.h"
#include "pg/server_context.h"

namespace cv::pg {

class Storage {
public:
    explicit Storage(const ServerContext& ctx);

    const ExtensionCatalog& catalog() const { return catalog_; }
    const RecordingTarget& target() const { return target_; }
    CacheReader& reader() { return *reader_; }

    // Refuses (before anything is sent) `needed` lookups that would cross the
    // server's monthly_lookup_quota.
    void check_quota(std::int64_t needed);

    // Throws before any API call when answers could not be stored (a
    // read-only transaction or a standby).
    static void ensure_writable();

    // Records a chunk's observations and hands each answer's cv_result to
    // on_result (with the observation), in order.
    void record(std::vector<core::Observation> observations, ResultBuilder& results,
                const std::function<void(const core::Observation&, Datum)>& on_result);

private:
    const ServerContext& ctx_;
    const ExtensionCatalog& catalog_;
    RecordingTarget target_;
    std::unique_ptr<CacheReader> reader_;
};

// max_age (an interval asking for data fresher than the TTL) in milliseconds:
// nullopt when NULL; throws Error(InvalidParameter) when negative or absurd.
std::optional<std::int64_t> max_age_ms(FunctionCallInfo fcinfo, int n);

}  // namespace cv::pg
