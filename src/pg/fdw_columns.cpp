#include "pg/core_first.h"

#include "pg/fdw_columns.h"

#include <cstring>

extern "C" {
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/errcodes.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace cv::pg {

const TableColumn kTableColumns[kTableColumnCount] = {
    {"id", TEXTOID, "pg_catalog.text"},
    {"state", TEXTOID, "pg_catalog.text"},
    {"license_number", TEXTOID, "pg_catalog.text"},
    {"license_status", TEXTOID, "pg_catalog.text"},
    {"license_type", TEXTOID, "pg_catalog.text"},
    {"classifications", TEXTARRAYOID, "pg_catalog.text[]"},
    {"business_name", TEXTOID, "pg_catalog.text"},
    {"issue_date", DATEOID, "pg_catalog.date"},
    {"expiration_date", DATEOID, "pg_catalog.date"},
    {"bond_amount_cents", INT8OID, "pg_catalog.int8"},
    {"insurance_required", BOOLOID, "pg_catalog.bool"},
    {"has_disciplinary_actions", BOOLOID, "pg_catalog.bool"},
    {"disciplinary_actions", JSONBOID, "pg_catalog.jsonb"},
    {"address", JSONBOID, "pg_catalog.jsonb"},
    {"compliant", BOOLOID, "pg_catalog.bool"},
    {"error_code", TEXTOID, "pg_catalog.text"},
    {"error_message", TEXTOID, "pg_catalog.text"},
    {"candidates", JSONBOID, "pg_catalog.jsonb"},
    {"verified_at", TIMESTAMPTZOID, "pg_catalog.timestamptz"},
    {"from_cache", BOOLOID, "pg_catalog.bool"},
    {"needs_review", BOOLOID, "pg_catalog.bool"},
    {"next_attempt_at", TIMESTAMPTZOID, "pg_catalog.timestamptz"},
    {"record", JSONBOID, "pg_catalog.jsonb"},
    {"lookup_name", TEXTOID, "pg_catalog.text"},
};

int* map_table_columns(Relation rel, KeyAttributes* keys) {
    TupleDesc desc = RelationGetDescr(rel);
    int* map = static_cast<int*>(palloc(sizeof(int) * (desc->natts > 0 ? desc->natts : 1)));
    *keys = KeyAttributes{};
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        map[i] = -1;
        if (att->attisdropped) continue;
        const char* name = NameStr(att->attname);
        int column = -1;
        for (int c = 0; c < kTableColumnCount; ++c)
            if (std::strcmp(kTableColumns[c].name, name) == 0) column = c;
        if (column < 0) {
            StringInfoData names;
            initStringInfo(&names);
            for (int c = 0; c < kTableColumnCount; ++c)
                appendStringInfo(&names, "%s%s", c > 0 ? ", " : "", kTableColumns[c].name);
            ereport(
                ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("column \"%s\" of foreign table \"%s\" is not a contractor_verify column",
                        name, RelationGetRelationName(rel)),
                 errhint("A contractor_verify foreign table has columns among: %s. IMPORT FOREIGN "
                         "SCHEMA contractor_verify creates one with all of them.",
                         names.data)));
        }
        if (att->atttypid != kTableColumns[column].type)
            ereport(ERROR,
                    (errcode(ERRCODE_DATATYPE_MISMATCH),
                     errmsg("column \"%s\" of foreign table \"%s\" has type %s, not %s", name,
                            RelationGetRelationName(rel), format_type_be(att->atttypid),
                            format_type_be(kTableColumns[column].type)),
                     errhint("Declare it as %s.", kTableColumns[column].sql_type)));
        map[i] = column;
        if (column == kResState) keys->state = att->attnum;
        if (column == kResLicenseNumber) keys->license_number = att->attnum;
        if (column == kLookupNameColumn) keys->lookup_name = att->attnum;
        if (column == kResBusinessName) keys->business_name = att->attnum;
    }
    if (keys->state == 0 ||
        (keys->license_number == 0 && keys->lookup_name == 0 && keys->business_name == 0))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("foreign table \"%s\" has no columns to look licenses up by",
                        RelationGetRelationName(rel)),
                 errhint("A contractor_verify foreign table needs state, and license_number or "
                         "lookup_name.")));
    return map;
}

}  // namespace cv::pg
