#include "pg/core_first.h"
#include "core/error.h"
#include "core/options.h"

#include "pg/server_context.h"

#include <map>

#include "pg/guard.h"
#include "pg/settings.h"

extern "C" {
#include "access/reloptions.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "foreign/foreign.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/errcodes.h"
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

std::string key_id(const std::string& key) {
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    bool ok = false;
    pg_call([&] {
        pg_cryptohash_ctx* ctx = pg_cryptohash_create(PG_SHA256);
        ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0 &&
             pg_cryptohash_update(ctx, reinterpret_cast<const uint8*>(key.data()), key.size()) == 0 &&
             pg_cryptohash_final(ctx, digest, sizeof digest) == 0;
        pg_cryptohash_free(ctx);
    });
    if (!ok) throw Error(ErrorKind::Internal, "could not compute an API key fingerprint");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 6; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

std::string quoted_role(const std::string& role) {
    return pg_value([&] { return quote_identifier(role.c_str()); });
}

}  // namespace

core::ServerSettings server_settings(Oid server) {
    List* options = nullptr;
    pg_call([&] { options = GetForeignServer(server)->options; });
    return core::ServerSettings::from_options(to_map(options));
}

namespace {

// The server of that name, checked to be one of contractor_verify's; its
// options as a map.
ForeignServer* find_server(const std::string& name) {
    ForeignServer* server = nullptr;
    const char* fdw_name = nullptr;
    pg_call([&] {
        server = GetForeignServerByName(name.c_str(), true);
        if (server != nullptr) fdw_name = GetForeignDataWrapper(server->fdwid)->fdwname;
    });
    if (server == nullptr)
        throw Error(ErrorKind::MissingConfig,
                    "server \"" + name + "\" does not exist",
                    "Create it with: CREATE SERVER " + name +
                        " FOREIGN DATA WRAPPER contractor_verify OPTIONS (url "
                        "'https://api.contractorverify.io/v1'); or set contractor_verify.server "
                        "to an existing server.");
    if (std::string(fdw_name) != "contractor_verify")
        throw Error(ErrorKind::InvalidParameter,
                    "server \"" + name + "\" is not a contractor_verify server",
                    "It uses the foreign data wrapper \"" + std::string(fdw_name) +
                        "\"; name a server of FOREIGN DATA WRAPPER contractor_verify.");
    return server;
}

}  // namespace

core::ServerSettings server_settings(const char* name, std::string& resolved_name) {
    resolved_name = name != nullptr ? name : default_server_name();
    return core::ServerSettings::from_options(to_map(find_server(resolved_name)->options));
}

ServerContext load_server_context(const char* name, Oid role_oid) {
    ServerContext ctx;
    const Oid user = OidIsValid(role_oid) ? role_oid : GetUserId();
    ctx.server_name = name != nullptr ? name : default_server_name();

    const char* role = nullptr;
    pg_call([&] { role = GetUserNameFromId(user, false); });
    ctx.role_name = role;
    ctx.role_oid = user;
    // How messages name the role: the caller, or the role a job runs for.
    const std::string who = OidIsValid(role_oid) ? "role \"" + ctx.role_name + "\"" : "the current user";
    const std::string for_whom = OidIsValid(role_oid) ? quoted_role(ctx.role_name) : "CURRENT_USER";
    ForeignServer* server = find_server(ctx.server_name);
    const bool usage = pg_value([&] {
        return pg_foreign_server_aclcheck(server->serverid, user, ACL_USAGE) == ACLCHECK_OK;
    });
    if (!usage)
        throw Error(ErrorKind::PermissionDenied,
                    "permission denied for foreign server " + ctx.server_name,
                    "A superuser or the server's owner can allow it with: GRANT USAGE ON FOREIGN "
                    "SERVER " + ctx.server_name + " TO " + ctx.role_name + ";");
    ctx.server_oid = server->serverid;
    ctx.settings = core::ServerSettings::from_options(to_map(server->options));

    // GetUserMapping: the user's own mapping, else PUBLIC's.
    UserMapping* um = nullptr;
    try {
        pg_call([&] { um = GetUserMapping(user, server->serverid); });
    } catch (const PgError& e) {
        if (e.edata()->sqlerrcode != ERRCODE_UNDEFINED_OBJECT) throw;
    }
    if (um == nullptr)
        throw Error(ErrorKind::MissingConfig,
                    "no user mapping for " + who + " on server \"" + ctx.server_name + "\"",
                    "Create one with: CREATE USER MAPPING FOR " + for_whom + " SERVER " +
                        ctx.server_name + " OPTIONS (api_key '...');");
    auto options = to_map(um->options);
    auto key = options.find("api_key");
    if (key == options.end() || key->second.empty())
        throw Error(ErrorKind::MissingConfig,
                    "the user mapping on server \"" + ctx.server_name + "\" has no api_key",
                    "Add it with: ALTER USER MAPPING FOR " + for_whom + " SERVER " + ctx.server_name +
                        " OPTIONS (ADD api_key '...');");
    ctx.api_key = key->second;
    ctx.api_key_id = key_id(ctx.api_key);
    return ctx;
}

}  // namespace cv::pg
