// The result of each distinct lookup of a batch, by lookup index, in a
// temporary file of this backend (fd.c's BufFile): memory stays flat whatever
// the roster's size, and nothing the caller can reach holds them.
#pragma once

#include <cstdint>
#include <vector>

#include "pg/pg_headers.h"

extern "C" {
#include "storage/buffile.h"
}

namespace cv::pg {

class ResultStore {
public:
    explicit ResultStore(std::size_t lookups);
    ~ResultStore();
    ResultStore(const ResultStore&) = delete;
    ResultStore& operator=(const ResultStore&) = delete;

    // Keeps a cv_result Datum for a lookup (the last one kept wins).
    void put(std::size_t lookup, Datum result);
    bool has(std::size_t lookup) const { return where_[lookup].file >= 0; }
    // The lookup's result, palloc'd in the current memory context.
    Datum get(std::size_t lookup);
    // After an abort, when fd.c has closed the file already: the destructor
    // then frees only C++ memory.
    void abandon() noexcept { file_ = nullptr; }

private:
    struct Position {
        int file = -1;
        off_t offset = 0;
    };
    BufFile* file_ = nullptr;
    std::vector<Position> where_;
    bool at_end_ = true;
};

}  // namespace cv::pg
