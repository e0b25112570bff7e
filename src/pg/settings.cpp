// GUCs of the extension.
#include "pg/core_first.h"
#include "pg/module.h"
#include "pg/settings.h"

#include "pg/pg_headers.h"

extern "C" {
#include "utils/guc.h"
}

namespace cv::pg {

namespace {
char* server_name_guc = nullptr;
}

const char* default_server_name() {
    return server_name_guc != nullptr && server_name_guc[0] != '\0' ? server_name_guc
                                                                     : "contractor_verify";
}

void settings_init() {
    DefineCustomStringVariable(
        "contractor_verify.server", "Foreign server the contractor_verify functions call.",
        "A server of the contractor_verify foreign data wrapper; functions taking a server "
        "argument override it.",
        &server_name_guc, "contractor_verify", PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

void reserve_guc_prefix() {
    // Last, after every subsystem defined its GUCs: placeholders of names not
    // defined by then (typos) are removed with a WARNING.
#if PG_VERSION_NUM >= 150000
    MarkGUCPrefixReserved("contractor_verify");
#else
    EmitWarningsOnPlaceholders("contractor_verify");
#endif
}

}  // namespace cv::pg
