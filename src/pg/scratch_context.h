// A memory context for one piece of work, deleted when the work ends,
// however it ends.
#pragma once

#include "pg/guard.h"
#include "pg/pg_headers.h"

extern "C" {
#include "utils/memutils.h"
}

namespace cv::pg {

class ScratchContext {
public:
    ScratchContext() {
        pg_call([&] {
            context_ = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify scan lookups",
                                             ALLOCSET_DEFAULT_SIZES);
        });
    }
    ~ScratchContext() { MemoryContextDelete(context_); }
    ScratchContext(const ScratchContext&) = delete;
    ScratchContext& operator=(const ScratchContext&) = delete;
    MemoryContext get() const { return context_; }

private:
    MemoryContext context_ = nullptr;
};

}  // namespace cv::pg
