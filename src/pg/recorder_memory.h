// Where the messages waiting for a worker live: a DSA area carved out of the
// main shared memory at server start (contractor_verify.worker_queue_memory),
// so handing a chunk over costs a copy and no system call; the worker frees
// a message once it is recorded or set aside. A message too large for the
// area ever to hold travels in a DSM segment of its own.
#pragma once

#include <cstddef>
#include <string>

#include "pg/pg_headers.h"

extern "C" {
#include "storage/dsm.h"
#include "utils/dsa.h"
}

namespace cv::pg {

// A message in shared memory: in the area, or in a segment of its own.
struct StoredMessage {
    dsa_pointer in_area;  // InvalidDsaPointer when in a segment
    dsm_handle segment;   // pinned until freed
};

// _PG_init (preloading): contractor_verify.worker_queue_memory.
void recorder_memory_settings_init();
// The shared memory to request for the area.
Size recorder_memory_size();
// shmem_startup_hook, with AddinShmemInitLock held, after the shared state:
// the area, made once.
void recorder_memory_startup();

// Copies a message into shared memory; false when there is no room for it
// now (try again later).
bool store_message(const std::string& bytes, StoredMessage& out);

// Frees a stored message (the worker, once it is recorded or set aside; or
// whoever could not queue it or reclaims it).
void free_message(const StoredMessage& m);

// A stored message's bytes: in the area where they are (valid until the
// message is freed), or a copy of a segment's. found() is false when a
// segment has gone.
class MessageView {
public:
    explicit MessageView(const StoredMessage& m);
    MessageView(const MessageView&) = delete;
    MessageView& operator=(const MessageView&) = delete;

    bool found() const { return data_ != nullptr; }
    const char* data() const { return data_; }
    std::size_t size() const { return size_; }

private:
    std::string copy_;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace cv::pg
