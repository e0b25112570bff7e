#include "core/error.h"
#include "core/options.h"

#include "pg/server_context.h"

#include <map>

#include "pg/guard.h"
#include "pg/settings.h"

extern "C" {
#include "access/reloptions.h"
#include "catalog/pg_user_mapping.h"
#include "foreign/foreign.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "utils/syscache.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;

// Option lists of the catalogs are DefElems holding strings.
std::map<std::string, std::string> to_map(List* options) {
    std::map<std::string, std::string> out;
    ListCell* cell;
    foreach (cell, options) {
        DefElem* def = static_cast<DefElem*>(lfirst(cell));
        out[def->defname] = strVal(def->arg);
    }
    return out;
}

// The user mapping's options for (user, server), falling back to PUBLIC;
// nullptr when there is none.
List* user_mapping_options(Oid user, Oid server, bool& found) {
    List* options = nullptr;
    found = false;
    pg_call([&] {
        HeapTuple tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(user),
                                       ObjectIdGetDatum(server));
        if (!HeapTupleIsValid(tp))
            tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
                                 ObjectIdGetDatum(server));
        if (!HeapTupleIsValid(tp)) return;
        found = true;
        bool isnull = false;
        Datum datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp, Anum_pg_user_mapping_umoptions,
                                      &isnull);
        if (!isnull) options = untransformRelOptions(datum);
        ReleaseSysCache(tp);
    });
    return options;
}

}  // namespace

ServerContext load_server_context(const char* name) {
    ServerContext ctx;
    ctx.server_name = name != nullptr ? name : default_server_name();

    ForeignServer* server = nullptr;
    const char* fdw_name = nullptr;
    pg_call([&] {
        server = GetForeignServerByName(ctx.server_name.c_str(), true);
        if (server != nullptr) fdw_name = GetForeignDataWrapper(server->fdwid)->fdwname;
    });
    if (server == nullptr)
        throw Error(ErrorKind::MissingConfig,
                    "server \"" + ctx.server_name + "\" does not exist",
                    "Create it with: CREATE SERVER " + ctx.server_name +
                        " FOREIGN DATA WRAPPER contractor_verify OPTIONS (url "
                        "'https://api.contractorverify.io/v1'); or set contractor_verify.server "
                        "to an existing server.");
    if (std::string(fdw_name) != "contractor_verify")
        throw Error(ErrorKind::InvalidParameter,
                    "server \"" + ctx.server_name + "\" is not a contractor_verify server",
                    "It uses the foreign data wrapper \"" + std::string(fdw_name) +
                        "\"; name a server of FOREIGN DATA WRAPPER contractor_verify.");
    ctx.server_oid = server->serverid;
    ctx.settings = core::ServerSettings::from_options(to_map(server->options));

    bool found = false;
    List* um = user_mapping_options(GetUserId(), server->serverid, found);
    if (!found)
        throw Error(ErrorKind::MissingConfig,
                    "no user mapping for the current user on server \"" + ctx.server_name + "\"",
                    "Create one with: CREATE USER MAPPING FOR CURRENT_USER SERVER " +
                        ctx.server_name + " OPTIONS (api_key '...');");
    auto options = to_map(um);
    auto key = options.find("api_key");
    if (key == options.end() || key->second.empty())
        throw Error(ErrorKind::MissingConfig,
                    "the user mapping on server \"" + ctx.server_name + "\" has no api_key",
                    "Add it with: ALTER USER MAPPING FOR CURRENT_USER SERVER " + ctx.server_name +
                        " OPTIONS (ADD api_key '...');");
    ctx.api_key = key->second;
    return ctx;
}

}  // namespace cv::pg
