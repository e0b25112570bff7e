// How a scan or join that returns rows as it goes buys its cache misses:
// in rounds, just before the first row that needs one, so a query stopped
// early (LIMIT, a cursor closed, EXISTS) pays for little more than the rows
// it returned. The first round is one call; each next one doubles, up to the
// calls allowed at once. Every round but the last is whole calls, so a query
// run to its end makes no more calls than buying everything at once would.
#pragma once
#include "core/no_postgres.h"

#include <cstdint>

namespace cv::core {

class PurchaseRounds {
public:
    // `misses` lookups to buy, `batch_size` per call, at most
    // `max_concurrent_calls` calls at once (below 1: one).
    PurchaseRounds(std::int64_t misses, int batch_size, int max_concurrent_calls);

    // How many lookups the next round buys (0: none left), counted as bought.
    std::int64_t next();
    std::int64_t remaining() const { return remaining_; }

private:
    std::int64_t remaining_;
    std::int64_t batch_size_;
    std::int64_t max_calls_;
    std::int64_t calls_ = 1;  // the next round's calls
};

}  // namespace cv::core
