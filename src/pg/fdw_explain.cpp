#include "pg/core_first.h"
#include "core/key_plan.h"

#include "pg/fdw_explain.h"

#include <string>

namespace cv::pg {

void explain_lookup_kind(bool by_license, bool by_name, ExplainState* es) {
    const char* kind = by_license && by_name ? "by license number and by name"
                       : by_name             ? "by name"
                                             : "by license number";
    ExplainPropertyText("Lookup", kind, es);
}

void explain_expected(const char* keys, double lookups, double expected_hits, int batch_size,
                      ExplainState* es) {
    ExplainPropertyText("Lookup Keys", keys, es);
    double misses = lookups;
    if (expected_hits >= 0) {
        ExplainPropertyInteger("Expected Cache Hits", nullptr, static_cast<int64>(expected_hits),
                               es);
        misses = lookups - expected_hits;
    }
    const std::string calls = "at most " + std::to_string(core::calls_needed(
                                               static_cast<std::int64_t>(misses), batch_size));
    ExplainPropertyText("API Calls", calls.c_str(), es);
}

void explain_spent(const FetchStats& stats, ExplainState* es) {
    ExplainPropertyInteger("Lookup Keys", nullptr, stats.keys, es);
    ExplainPropertyInteger("Cache Hits", nullptr, stats.cache_hits, es);
    ExplainPropertyInteger("Live Lookups", nullptr, stats.live, es);
    ExplainPropertyInteger("API Calls", nullptr, stats.calls, es);
    ExplainPropertyInteger("Rate Limited", nullptr, stats.rate_limited, es);
    if (stats.invalid > 0 || es->format != EXPLAIN_FORMAT_TEXT)
        ExplainPropertyInteger("Keys Not Looked Up", nullptr, stats.invalid, es);
    if (stats.unmatchable > 0 || es->format != EXPLAIN_FORMAT_TEXT)
        ExplainPropertyInteger("Keys Not In Stored Form", nullptr, stats.unmatchable, es);
}

}  // namespace cv::pg
