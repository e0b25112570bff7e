// How the worker takes SIGTERM (a fast shutdown, pg_terminate_backend): as
// Postgres's die() does (the next CHECK_FOR_INTERRUPTS ends the process, so
// long housekeeping queries stop at once), except while it records answers.
// A termination arriving then is noted and acted on once the recording has
// committed: its answers are paid for and live nowhere else.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

void worker_sigterm(SIGNAL_ARGS);

// A termination came during the recording under way (it makes no further
// attempt after this one).
bool worker_stop_noted() noexcept;

// Lives while a message or a job's chunk is recorded (or set aside).
class RecordingScope {
public:
    RecordingScope() noexcept;
    ~RecordingScope();
    RecordingScope(const RecordingScope&) = delete;
    RecordingScope& operator=(const RecordingScope&) = delete;
};

}  // namespace cv::pg
