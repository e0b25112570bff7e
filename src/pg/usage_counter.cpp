#include "pg/core_first.h"
#include "core/key_hash.h"
#include "core/quota.h"

#include <ctime>
#include <map>

#include "pg/usage_counter.h"

#include "pg/guard.h"
#include "pg/rate_gate.h"
#include "pg/shared_state.h"

extern "C" {
#include "storage/ipc.h"
}

namespace cv::pg {

namespace {

struct Pending {
    ServerContext ctx;
    std::int64_t answers = 0;
};

std::map<std::uint64_t, Pending> pending;
std::int64_t last_flush_ms = 0;
bool exit_hook = false;

void flush() noexcept {
    SharedState* s = shared_state();
    if (s == nullptr) return;
    const std::int32_t month = core::utc_month(std::time(nullptr));
    for (auto& [key, p] : pending) {
        if (p.answers == 0) continue;
        try {
            SharedLock lock(s);
            ApiKeySlot& slot = account_slot(s, p.ctx, steady_now_ms());
            if (slot.cache_month != month) {
                slot.cache_month = month;
                slot.cache_answers = 0;
            }
            slot.cache_answers += p.answers;
        } catch (...) {
            // Every account slot busy: these counts are lost, the lookups are not.
        }
        p.answers = 0;
    }
    last_flush_ms = steady_now_ms();
}

void flush_at_exit(int, Datum) { flush(); }

}  // namespace

void count_cache_answers(const ServerContext& ctx, std::int64_t answers) {
    if (answers <= 0 || shared_state() == nullptr) return;
    if (!exit_hook) {
        pg_call([] { before_shmem_exit(flush_at_exit, 0); });
        exit_hook = true;
    }
    const std::uint64_t key = core::key_hash({&ctx.settings.url, &ctx.api_key});
    auto it = pending.find(key);
    if (it == pending.end()) it = pending.emplace(key, Pending{ctx, 0}).first;
    it->second.answers += answers;
    if (steady_now_ms() - last_flush_ms >= 1000) flush();
}

}  // namespace cv::pg
