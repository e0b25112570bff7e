#include "pg/core_first.h"
#include "core/error.h"
#include "core/key_hash.h"

#include "pg/single_flight.h"

#include <vector>

#include "pg/guard.h"
#include "pg/recorder_queue.h"
#include "pg/shared_state.h"

extern "C" {
#include "storage/proc.h"
#include "storage/procarray.h"
}

namespace cv::pg {

namespace {

// A claim nobody will resolve: its backend is gone without handing it over,
// or the worker has recorded its answer. Call with the in-flight lock held.
bool stale(const InflightKey& e) {
    if (e.ticket == 0) return BackendPidGetProc(e.pid) == nullptr;
    return recorded(e.ticket);
}

// Drops every stale claim (when the table is full). Lock held.
void sweep(HTAB* table) {
    std::vector<std::uint64_t> dead;
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, table);
    while (auto* e = static_cast<InflightKey*>(hash_seq_search(&status)))
        if (stale(*e)) dead.push_back(e->key);
    for (std::uint64_t k : dead) hash_search(table, &k, HASH_REMOVE, nullptr);
}

// Room for `extra` more elements, so that inserting them after shared
// memory has changed cannot throw; grows geometrically (a reserve() of one
// more each time would rehash the whole table on every call).
template <typename Table>
void make_room(Table& t, std::size_t extra) {
    const std::size_t need = t.size() + extra;
    if (static_cast<float>(need) > static_cast<float>(t.bucket_count()) * t.max_load_factor())
        t.reserve(std::max(need, 2 * t.size()));
}

}  // namespace

InflightClaims::InflightClaims(std::string api_url) : api_url_(std::move(api_url)) {}

InflightClaims::~InflightClaims() { release_all(); }

std::uint64_t InflightClaims::key(const std::string& state, const std::string& license_number) const {
    // Per database: each database has its own cache to read the answer from.
    return core::key_hash({&api_url_, &state, &license_number}, static_cast<std::uint64_t>(MyDatabaseId));
}

InflightClaims::Claim InflightClaims::claim(const std::string& state, const std::string& license_number) {
    SharedState* s = shared_state();
    HTAB* table = inflight_table();
    if (s == nullptr || table == nullptr) return Claim::Untracked;
    std::uint64_t k = key(state, license_number);
    if (mine_.count(k)) return Claim::Mine;
    make_room(mine_, 1);
    Claim result = Claim::Untracked;
    pg_call([&] {
        LWLockAcquire(s->inflight_lock, LW_EXCLUSIVE);
        bool found = false;
        auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, &found));
        // Held by another backend, or handed to the worker (by anyone, this
        // session's earlier statement too) and not recorded yet: wait for it.
        if (e != nullptr && (e->pid != MyProcPid || e->ticket != 0) && !stale(*e)) {
            result = Claim::Busy;
        } else {
            if (e == nullptr) {
                e = static_cast<InflightKey*>(hash_search(table, &k, HASH_ENTER_NULL, &found));
                if (e == nullptr) {
                    sweep(table);
                    e = static_cast<InflightKey*>(hash_search(table, &k, HASH_ENTER_NULL, &found));
                }
            }
            if (e != nullptr) {
                e->pid = MyProcPid;
                e->database = MyDatabaseId;
                e->ticket = 0;
                result = Claim::Mine;
            }
        }
        LWLockRelease(s->inflight_lock);
    });
    if (result == Claim::Mine) {
        mine_.insert(k);
        handed_.erase(k);
    }
    return result;
}

bool InflightClaims::busy(const std::string& state, const std::string& license_number) {
    SharedState* s = shared_state();
    HTAB* table = inflight_table();
    if (s == nullptr || table == nullptr) return false;
    std::uint64_t k = key(state, license_number);
    bool held = false;
    pg_call([&] {
        LWLockAcquire(s->inflight_lock, LW_SHARED);
        auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, nullptr));
        held = e != nullptr && (e->pid != MyProcPid || e->ticket != 0) && !stale(*e);
        LWLockRelease(s->inflight_lock);
    });
    return held;
}

void InflightClaims::handed_over(const std::set<std::pair<std::string, std::string>>& licenses,
                                 std::uint64_t ticket) {
    SharedState* s = shared_state();
    HTAB* table = inflight_table();
    if (s == nullptr || table == nullptr) return;
    std::vector<std::uint64_t> keys;
    keys.reserve(licenses.size());
    for (const auto& [state, license_number] : licenses) {
        const std::uint64_t k = key(state, license_number);
        if (mine_.count(k)) keys.push_back(k);
    }
    if (keys.empty()) return;
    make_room(handed_, keys.size());
    // One lock for the chunk's claims.
    pg_call([&] {
        LWLockAcquire(s->inflight_lock, LW_EXCLUSIVE);
        for (std::uint64_t k : keys) {
            auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, nullptr));
            if (e != nullptr && e->pid == MyProcPid) e->ticket = ticket;
        }
        LWLockRelease(s->inflight_lock);
    });
    for (std::uint64_t k : keys) {
        mine_.erase(k);
        handed_[k] = ticket;
    }
}

void InflightClaims::release(const std::string& state, const std::string& license_number) {
    SharedState* s = shared_state();
    HTAB* table = inflight_table();
    std::uint64_t k = key(state, license_number);
    if (s == nullptr || table == nullptr || !mine_.count(k)) return;
    pg_call([&] {
        LWLockAcquire(s->inflight_lock, LW_EXCLUSIVE);
        auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, nullptr));
        if (e != nullptr && e->pid == MyProcPid && e->ticket == 0) hash_search(table, &k, HASH_REMOVE, nullptr);
        LWLockRelease(s->inflight_lock);
        ConditionVariableBroadcast(&s->settled);
    });
    mine_.erase(k);
}

void InflightClaims::release_all() noexcept {
    SharedState* s = shared_state();
    HTAB* table = inflight_table();
    if (s == nullptr || table == nullptr || (mine_.empty() && handed_.empty())) return;
    // Plain Postgres calls that do not raise: this runs while an error unwinds.
    LWLockAcquire(s->inflight_lock, LW_EXCLUSIVE);
    for (std::uint64_t k : mine_) {
        auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, nullptr));
        if (e != nullptr && e->pid == MyProcPid && e->ticket == 0) hash_search(table, &k, HASH_REMOVE, nullptr);
    }
    for (const auto& [k, ticket] : handed_) {
        auto* e = static_cast<InflightKey*>(hash_search(table, &k, HASH_FIND, nullptr));
        if (e != nullptr && e->pid == MyProcPid && e->ticket == ticket && recorded(ticket))
            hash_search(table, &k, HASH_REMOVE, nullptr);
    }
    LWLockRelease(s->inflight_lock);
    ConditionVariableBroadcast(&s->settled);
    mine_.clear();
    handed_.clear();
}

}  // namespace cv::pg
