#include "pg/core_first.h"

#include "pg/fdw_import.h"

#include "pg/fdw_columns.h"
#include "pg/guard.h"

extern "C" {
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/errcodes.h"
}

namespace cv::pg {

namespace {

constexpr const char* kRemoteSchema = "contractor_verify";
constexpr const char* kTable = "licenses";

// The statement is parsed with the importing role's search_path: every type
// is schema-qualified, so no look-alike type of that role's can take a column.
List* import_schema(ImportForeignSchemaStmt* stmt, Oid server_oid) {
    ForeignServer* server = GetForeignServer(server_oid);
    if (strcmp(stmt->remote_schema, kRemoteSchema) != 0)
        ereport(
            ERROR,
            (errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
             errmsg("schema \"%s\" is not available on foreign server \"%s\"", stmt->remote_schema,
                    server->servername),
             errhint(
                 "The server offers one schema: IMPORT FOREIGN SCHEMA %s FROM SERVER %s INTO ...;",
                 kRemoteSchema, quote_identifier(server->servername))));
    if (stmt->options != NIL)
        ereport(ERROR, (errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
                        errmsg("invalid option \"%s\" for IMPORT FOREIGN SCHEMA",
                               castNode(DefElem, linitial(stmt->options))->defname),
                        errhint("IMPORT FOREIGN SCHEMA of contractor_verify takes no options.")));
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE FOREIGN TABLE %s (", quote_identifier(kTable));
    for (int c = 0; c < kTableColumnCount; ++c)
        appendStringInfo(&sql, "%s%s %s", c > 0 ? ", " : "",
                         quote_identifier(kTableColumns[c].name), kTableColumns[c].sql_type);
    appendStringInfo(&sql, ") SERVER %s", quote_identifier(server->servername));
    return lappend(NIL, sql.data);
}

}  // namespace

List* fdw_import_schema(ImportForeignSchemaStmt* stmt, Oid server) {
    return guard([&] {
        List* out = NIL;
        pg_call([&] { out = import_schema(stmt, server); });
        return out;
    });
}

}  // namespace cv::pg
