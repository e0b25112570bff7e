// A statement that may fail in one expected way, without losing the
// transaction around it.
#pragma once

#include <functional>

namespace cv::pg {

// Runs f in a subtransaction of the current transaction. True when f
// succeeded (its work joins the transaction); false when it raised a
// Postgres error with SQLSTATE `expected` (all it did is rolled back). Any
// other error is rolled back and rethrown.
bool succeeds_unless(int expected, const std::function<void()>& f);

}  // namespace cv::pg
