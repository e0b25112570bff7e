// Lookups the cache answered, per API account and month, for the usage view:
// counted in this backend and added to the account's slot in shared memory
// at most once a second and when the backend exits, so a cached lookup costs
// no lock.
#pragma once

#include <cstdint>

#include "pg/server_context.h"

namespace cv::pg {

void count_cache_answers(const ServerContext& ctx, std::int64_t answers);

}  // namespace cv::pg
