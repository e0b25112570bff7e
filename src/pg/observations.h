#pragma once

#include "core/observation.h"
#include "core/options.h"

namespace cv::pg {

// Sets what the cache needs to know about an answer: how long it stays fresh,
// and for STATE_TIMEOUT when to try again.
void schedule(core::Observation& answer, const core::ServerSettings& settings);

}  // namespace cv::pg
