#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// Allocations go to `context` for this object's lifetime.
class MemoryScope {
public:
    explicit MemoryScope(MemoryContext context) : old_(MemoryContextSwitchTo(context)) {}
    ~MemoryScope() { MemoryContextSwitchTo(old_); }
    MemoryScope(const MemoryScope&) = delete;
    MemoryScope& operator=(const MemoryScope&) = delete;

private:
    MemoryContext old_;
};

}  // namespace cv::pg
