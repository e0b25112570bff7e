#include "pg/core_first.h"
#include "core/error.h"
#include "pg/args.h"

extern "C" {
#include "datatype/timestamp.h"
#include "utils/timestamp.h"
}

namespace cv::pg {

namespace {

constexpr double kMaxAgeYears = 100;

}  // namespace

std::optional<std::int64_t> max_age_ms(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return std::nullopt;
    const Interval* iv = PG_GETARG_INTERVAL_P(n);
    const double micros = static_cast<double>(iv->time) +
                          static_cast<double>(iv->day) * USECS_PER_DAY +
                          static_cast<double>(iv->month) * DAYS_PER_MONTH * USECS_PER_DAY;
    if (micros < 0)
        throw core::Error(core::ErrorKind::InvalidParameter, "max_age must not be negative",
                          "Pass an interval such as '1 hour', 0 to always call the API, or NULL "
                          "for the server's cache TTLs.");
    if (micros > kMaxAgeYears * DAYS_PER_YEAR * USECS_PER_DAY)
        throw core::Error(core::ErrorKind::InvalidParameter, "max_age is too large",
                          "Pass at most '100 years', or NULL for the server's cache TTLs.");
    return static_cast<std::int64_t>(micros / 1000);
}

const char* server_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return nullptr;
    return NameStr(*PG_GETARG_NAME(n));
}

}  // namespace cv::pg
