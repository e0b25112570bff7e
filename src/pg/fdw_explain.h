// What EXPLAIN shows of a foreign-table scan or a batched join: how it looks
// licenses up, how many keys, what the cache is expected to answer and how
// many calls it may take; with ANALYZE, what it did. Never a key or an API key.
#pragma once

#include "pg/fdw_fetch.h"
#include "pg/pg_headers.h"

extern "C" {
#include "commands/explain.h"
}

namespace cv::pg {

// "by license number", "by name", or both.
void explain_lookup_kind(bool by_license, bool by_name, ExplainState* es);

// Planning's figures: `keys` (text: "3", "about 10", ...), the cache hits
// expected (-1: unknown) and at most how many calls the rest take.
void explain_expected(const char* keys, double lookups, double expected_hits, int batch_size,
                      ExplainState* es);

// What a run spent.
void explain_spent(const FetchStats& stats, ExplainState* es);

}  // namespace cv::pg
