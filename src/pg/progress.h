#pragma once

#include "core/batch_runner.h"

#include <cstdint>
#include <string>

#include "pg/shared_state.h"

namespace cv::pg {

// The progress of one running batch: a slot in shared memory (when preloaded)
// that other sessions read through contractor_verify.batch_progress, and
// NOTICE lines when contractor_verify.progress_notice_interval asks for them.
// The slot is released when this object goes away.
class BatchProgress {
public:
    explicit BatchProgress(const std::string& server_name);
    ~BatchProgress();
    BatchProgress(const BatchProgress&) = delete;
    BatchProgress& operator=(const BatchProgress&) = delete;

    void phase(BatchPhase phase);
    void plan(std::int64_t total, std::int64_t invalid, std::int64_t cached, std::int64_t lookups);
    void update(const core::BatchStats& stats);
    void finish(const core::BatchStats& stats);

private:
    void maybe_notice(const core::BatchStats& stats, bool last);

    ProgressSlot* slot_ = nullptr;
    std::int64_t total_ = 0, cached_ = 0, lookups_ = 0;
    std::int64_t started_ms_ = 0, last_notice_ms_ = 0;
    std::int64_t noticed_done_ = -1, noticed_calls_ = -1;
};

// The GUC contractor_verify.progress_notice_interval (seconds; 0: off).
void progress_settings_init();

}  // namespace cv::pg
