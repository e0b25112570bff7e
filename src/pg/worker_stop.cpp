#include "pg/core_first.h"

#include "pg/worker_stop.h"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
}

#include <cerrno>
#include <csignal>

namespace cv::pg {

namespace {

volatile sig_atomic_t recording = false;
volatile sig_atomic_t stop_noted = false;

}  // namespace

void worker_sigterm(SIGNAL_ARGS) {
    if (!recording) {
        die(postgres_signal_arg);
        return;
    }
    const int saved_errno = errno;
    stop_noted = true;
    SetLatch(MyLatch);
    errno = saved_errno;
}

bool worker_stop_noted() noexcept { return stop_noted; }

RecordingScope::RecordingScope() noexcept {
    recording = true;
    // A termination that came just before: held over too.
    if (ProcDiePending) {
        ProcDiePending = false;
        stop_noted = true;
    }
}

RecordingScope::~RecordingScope() {
    recording = false;
    if (stop_noted) {
        stop_noted = false;
        ProcDiePending = true;
        InterruptPending = true;
    }
}

}  // namespace cv::pg
