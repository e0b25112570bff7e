// Validator of the contractor_verify foreign data wrapper: every option goes
// through the one option table in core/options.
#include "pg/core_first.h"
#include "core/error.h"
#include "core/options.h"

#include <string>
#include <utility>
#include <vector>

#include "pg/guard.h"

extern "C" {
#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "nodes/pg_list.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;
using cv::core::OptionContext;

std::vector<std::pair<std::string, std::string>> read_options(Datum options_datum) {
    std::vector<std::pair<std::string, std::string>> out;
    List* options = nullptr;
    cv::pg::pg_call([&] { options = untransformRelOptions(options_datum); });
    ListCell* cell;
    foreach (cell, options) {
        DefElem* def = static_cast<DefElem*>(lfirst(cell));
        const char* value = nullptr;
        cv::pg::pg_call([&] { value = defGetString(def); });
        out.emplace_back(def->defname, value);
    }
    return out;
}

void validate(Datum options_datum, Oid catalog) {
    auto options = read_options(options_datum);
    if (catalog == ForeignServerRelationId || catalog == UserMappingRelationId) {
        const OptionContext context = catalog == ForeignServerRelationId
                                          ? OptionContext::Server
                                          : OptionContext::UserMapping;
        for (const auto& [name, value] : options) cv::core::validate_option(context, name, value);
        return;
    }
    if (options.empty()) return;
    const char* where = catalog == ForeignDataWrapperRelationId ? "FOREIGN DATA WRAPPER"
                                                                : "FOREIGN TABLE";
    throw Error(ErrorKind::InvalidOptionName,
                "invalid option \"" + options.front().first + "\" for a " + where,
                std::string("A ") + where +
                    " of contractor_verify takes no options. Server options: " +
                    cv::core::valid_option_names(OptionContext::Server) +
                    ". User mapping options: " +
                    cv::core::valid_option_names(OptionContext::UserMapping) + ".");
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(contractor_verify_fdw_validator);
Datum contractor_verify_fdw_validator(PG_FUNCTION_ARGS);
}

Datum contractor_verify_fdw_validator(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        validate(PG_GETARG_DATUM(0), PG_GETARG_OID(1));
        return (Datum)0;
    });
}
