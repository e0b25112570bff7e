#include "pg/core_first.h"

#include "pg/recorder_memory.h"

#include "pg/guard.h"
#include "pg/shared_state.h"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

namespace cv::pg {

namespace {

constexpr const char* kAreaName = "contractor_verify worker queue memory";

int area_kb = 16384;
void* area_place = nullptr;
dsa_area* area = nullptr;  // this process's handle on it, attached on first use

Size area_bytes() { return static_cast<Size>(area_kb) * 1024; }

// A message larger than this goes to a segment of its own: the area keeps
// room for several at once.
Size largest_in_area() { return area_bytes() / 4; }

dsa_area* attached() {
    if (area == nullptr) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        area = dsa_attach_in_place(area_place, nullptr);
        MemoryContextSwitchTo(old);
        on_shmem_exit(dsa_on_shmem_exit_release_in_place, PointerGetDatum(area_place));
    }
    return area;
}

}  // namespace

void recorder_memory_settings_init() {
    DefineCustomIntVariable(
        "contractor_verify.worker_queue_memory",
        "Shared memory for answers waiting for the workers to record them.",
        "When it is full, a statement keeps its answers and hands them over as the workers "
        "free room. Takes effect at server start.",
        &area_kb, 16384, 1024, 1024 * 1024, PGC_POSTMASTER, GUC_UNIT_KB, nullptr, nullptr, nullptr);
}

Size recorder_memory_size() { return MAXALIGN(area_bytes()); }

void recorder_memory_startup() {
    bool found = false;
    area_place = ShmemInitStruct(kAreaName, area_bytes(), &found);
    if (found) return;
    // The area's own locks report their waits under the extension's named
    // tranche, which every process knows by name.
    dsa_area* a = dsa_create_in_place(area_place, area_bytes(), shared_state()->lock->tranche, nullptr);
    // Never more than the space reserved: no DSM segments, so an allocation
    // that does not fit fails softly instead of raising an error.
    dsa_set_size_limit(a, area_bytes());
    // Lives as long as the server, whoever is attached.
    dsa_pin(a);
    dsa_detach(a);
}

bool store_message(const std::string& bytes, StoredMessage& out) {
    const Size n = bytes.size();
    out.in_area = InvalidDsaPointer;
    out.segment = DSM_HANDLE_INVALID;
    bool stored = false;
    pg_call([&] {
        char* p = nullptr;
        dsm_segment* seg = nullptr;
        if (n + sizeof n <= largest_in_area()) {
            dsa_area* a = attached();
            out.in_area = dsa_allocate_extended(a, n + sizeof n, DSA_ALLOC_NO_OOM);
            if (!DsaPointerIsValid(out.in_area)) return;  // full for now
            p = static_cast<char*>(dsa_get_address(a, out.in_area));
        } else {
            seg = dsm_create(n + sizeof n, DSM_CREATE_NULL_IF_MAXSEGMENTS);
            if (seg == nullptr) return;  // out of segments for now
            p = static_cast<char*>(dsm_segment_address(seg));
        }
        std::memcpy(p, &n, sizeof n);
        std::memcpy(p + sizeof n, bytes.data(), n);
        if (seg != nullptr) {
            // Outlives this backend until the worker frees it.
            dsm_pin_segment(seg);
            out.segment = dsm_segment_handle(seg);
            dsm_detach(seg);
        }
        stored = true;
    });
    return stored;
}

void free_message(const StoredMessage& m) {
    pg_call([&] {
        if (DsaPointerIsValid(m.in_area))
            dsa_free(attached(), m.in_area);
        else if (m.segment != DSM_HANDLE_INVALID)
            dsm_unpin_segment(m.segment);
    });
}

MessageView::MessageView(const StoredMessage& m) {
    if (DsaPointerIsValid(m.in_area)) {
        const char* p = nullptr;
        pg_call([&] { p = static_cast<const char*>(dsa_get_address(attached(), m.in_area)); });
        std::memcpy(&size_, p, sizeof size_);
        data_ = p + sizeof size_;
        return;
    }
    dsm_segment* seg = nullptr;
    pg_call([&] { seg = dsm_attach(m.segment); });
    if (seg == nullptr) return;
    try {
        const char* p = static_cast<const char*>(dsm_segment_address(seg));
        Size n = 0;
        std::memcpy(&n, p, sizeof n);
        copy_.assign(p + sizeof n, n);
    } catch (...) {
        pg_call([&] { dsm_detach(seg); });
        throw;
    }
    pg_call([&] { dsm_detach(seg); });
    data_ = copy_.data();
    size_ = copy_.size();
}

}  // namespace cv::pg
