#include "core/error.h"
#include "core/rate_window.h"

#include "pg/shared_state.h"

#include <chrono>
#include <cstring>

#include "pg/guard.h"

extern "C" {
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace cv::pg {

namespace {

SharedState* state = nullptr;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type prev_shmem_request_hook = nullptr;
#endif
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

constexpr const char* kTranche = "contractor_verify";

void request_space() {
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
    RequestNamedLWLockTranche(kTranche, 1);
}

#if PG_VERSION_NUM >= 150000
void on_shmem_request() {
    if (prev_shmem_request_hook) prev_shmem_request_hook();
    request_space();
}
#endif

void on_shmem_startup() {
    if (prev_shmem_startup_hook) prev_shmem_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    state = static_cast<SharedState*>(ShmemInitStruct("contractor_verify", sizeof(SharedState), &found));
    if (!found) {
        std::memset(state, 0, sizeof(SharedState));
        state->lock = &(GetNamedLWLockTranche(kTranche))->lock;
        for (auto& slot : state->limiters) core::start_log_reset(slot.log);
        for (auto& slot : state->progress) SpinLockInit(&slot.mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void shared_state_request() {
#if PG_VERSION_NUM >= 150000
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = on_shmem_request;
#else
    request_space();
#endif
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = on_shmem_startup;
}

SharedState* shared_state() { return state; }

SharedLock::SharedLock(SharedState* s) : s_(s) {
    pg_call([&] { LWLockAcquire(s_->lock, LW_EXCLUSIVE); });
}

SharedLock::~SharedLock() { LWLockRelease(s_->lock); }

std::int64_t steady_now_ms() {
    // CLOCK_MONOTONIC: one clock for every process of the machine.
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace cv::pg
