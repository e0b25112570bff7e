#include "pg/core_first.h"
#include "pg/args.h"

namespace cv::pg {

const char* server_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return nullptr;
    return NameStr(*PG_GETARG_NAME(n));
}

}  // namespace cv::pg
