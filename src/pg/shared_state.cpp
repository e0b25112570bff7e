#include "pg/core_first.h"
#include "core/error.h"
#include "core/rate_window.h"

#include "pg/shared_state.h"

#include <chrono>
#include <cstring>

#include "pg/guard.h"
#include "pg/recorder_memory.h"

extern "C" {
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
}

namespace cv::pg {

namespace {

SharedState* state = nullptr;
HTAB* inflight = nullptr;
int api_keys_guc = 16;
int inflight_guc = 16384;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type prev_shmem_request_hook = nullptr;
#endif
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

constexpr const char* kTranche = "contractor_verify";
constexpr const char* kInflightName = "contractor_verify in-flight lookups";

Size state_size() {
    return add_size(offsetof(SharedState, key_slots), mul_size(sizeof(ApiKeySlot), api_keys_guc));
}

void request_space() {
    RequestAddinShmemSpace(MAXALIGN(state_size()));
    RequestAddinShmemSpace(hash_estimate_size(inflight_guc, sizeof(InflightKey)));
    RequestAddinShmemSpace(recorder_memory_size());
    RequestNamedLWLockTranche(kTranche, 4);
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
    state = static_cast<SharedState*>(ShmemInitStruct("contractor_verify", state_size(), &found));
    if (!found) {
        std::memset(state, 0, state_size());
        LWLockPadded* locks = GetNamedLWLockTranche(kTranche);
        state->lock = &locks[0].lock;
        state->recorder_lock = &locks[1].lock;
        state->inflight_lock = &locks[2].lock;
        state->quota_file_lock = &locks[3].lock;
        ConditionVariableInit(&state->settled);
        state->next_ticket = 1;
        state->key_slot_count = api_keys_guc;
        for (int i = 0; i < api_keys_guc; ++i) {
            core::start_log_reset(state->key_slots[i].batch_log);
            core::start_log_reset(state->key_slots[i].single_log);
        }
        for (auto& slot : state->progress) SpinLockInit(&slot.mutex);
    }
    HASHCTL info;
    std::memset(&info, 0, sizeof info);
    info.keysize = sizeof(std::uint64_t);
    info.entrysize = sizeof(InflightKey);
    inflight = ShmemInitHash(kInflightName, inflight_guc, inflight_guc, &info, HASH_ELEM | HASH_BLOBS);
    recorder_memory_startup();
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void shared_state_request() {
    DefineCustomIntVariable(
        "contractor_verify.max_api_keys",
        "API accounts (URL and key) the cluster-wide rate limiter and quota track at once.",
        "Each needs about 50 kB of shared memory. Takes effect at server start.", &api_keys_guc,
        16, 1, 1024, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "contractor_verify.max_inflight_lookups",
        "Lookups that can be in flight at once across the cluster with single flight.",
        "A lookup beyond it is bought without waiting for an identical one in flight. Takes "
        "effect at server start.",
        &inflight_guc, 16384, 128, 1048576, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    recorder_memory_settings_init();
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
HTAB* inflight_table() { return inflight; }
int max_api_keys() { return api_keys_guc; }

SharedLock::SharedLock(LWLock* lock) : lock_(lock) {
    pg_call([&] { LWLockAcquire(lock_, LW_EXCLUSIVE); });
}

SharedLock::~SharedLock() { LWLockRelease(lock_); }

std::int64_t steady_now_ms() {
    // CLOCK_MONOTONIC: one clock for every process of the machine.
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace cv::pg
