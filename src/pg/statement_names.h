// Answers to lookups by name that the current client statement bought. A
// name's answer is never cached (its license number is unknown until it is
// answered), so without these a nested loop rescanning the foreign table, or
// a function reading it per row, would buy the same name again within one
// statement, where a license number is answered by the cache.
#pragma once

#include <string>

#include "pg/pg_headers.h"

namespace cv::pg {

// The answer (a cv_result) this statement got for the name
// lookup with normalized key `key` (KeyPlanner::lookup_key) from the API at
// `api_url`, in the current memory context; false when it has none.
bool statement_name_answer(const std::string& api_url, const std::string& key, Datum* answer);

// Keeps `answer` for the rest of the statement (a copy), while the answers
// kept take no more than work_mem.
void remember_statement_name_answer(const std::string& api_url, const std::string& key,
                                    Datum answer);

}  // namespace cv::pg
