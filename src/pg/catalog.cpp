#include "pg/core_first.h"
#include "core/error.h"
#include "core/version.h"

#include "pg/catalog.h"

#include <cstring>
#include <string>

#include "pg/guard.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kExtension = "contractor_verify";
constexpr const char* kDataSchema = "contractor_verify";

constexpr const char* kCacheColumnNames[kCacheColumnCount] = {
    "state", "license_number", "outcome", "license_status", "license_type", "classifications",
    "business_name", "issue_date", "expiration_date", "bond_amount_cents", "insurance_required",
    "has_disciplinary_actions", "disciplinary_actions", "address", "error_code", "error_message",
    "record", "server_name", "fetched_at", "expires_at", "last_attempt_at", "last_error_code",
    "last_error_message", "consecutive_timeouts", "next_attempt_at", "needs_review",
    "review_reason", "api_url"};

ExtensionCatalog cached;
bool valid = false;
bool callback_registered = false;

void on_relcache_change(Datum, Oid relid) {
    if (!valid) return;
    if (relid == InvalidOid || relid == cached.cache || relid == cached.cache_key ||
        relid == cached.history)
        valid = false;
}

void on_namespace_change(Datum, int, uint32) { valid = false; }

// extversion of the extension, palloc'd (NULL when not installed), and the
// schema it was created in.
char* installed_version(Oid ext, Oid& schema) {
    char* version = nullptr;
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
    SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, nullptr, 1, &key);
    HeapTuple tup = systable_getnext(scan);
    if (HeapTupleIsValid(tup)) {
        bool isnull = false;
        Datum d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
        if (!isnull) version = text_to_cstring(DatumGetTextPP(d));
        schema = reinterpret_cast<Form_pg_extension>(GETSTRUCT(tup))->extnamespace;
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return version;
}

Oid relation_owner(Oid rel) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
    const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    return owner;
}

[[noreturn]] void reinstall(const std::string& what) {
    throw Error(ErrorKind::MissingConfig, "contractor_verify is not installed correctly: " + what,
                "Install it with CREATE EXTENSION contractor_verify (or DROP EXTENSION "
                "contractor_verify; CREATE EXTENSION contractor_verify;).");
}

}  // namespace

const ExtensionCatalog& extension_catalog() {
    if (valid) return cached;
    if (!callback_registered) {
        pg_call([] {
            CacheRegisterRelcacheCallback(on_relcache_change, (Datum)0);
            CacheRegisterSyscacheCallback(NAMESPACEOID, on_namespace_change, (Datum)0);
        });
        callback_registered = true;
    }

    ExtensionCatalog c;
    const char* version = nullptr;
    Oid ext_of_schema = InvalidOid;
    Oid ext_schema = InvalidOid;
    pg_call([&] {
        c.extension = get_extension_oid(kExtension, true);
        if (!OidIsValid(c.extension)) return;
        version = installed_version(c.extension, ext_schema);
        c.data_schema = get_namespace_oid(kDataSchema, true);
        if (OidIsValid(c.data_schema))
            ext_of_schema = getExtensionOfObject(NamespaceRelationId, c.data_schema);
    });
    if (!OidIsValid(c.extension))
        throw Error(ErrorKind::MissingConfig, "extension \"contractor_verify\" is not installed in this database",
                    "Run CREATE EXTENSION contractor_verify;");
    if (GetDatabaseEncoding() != PG_UTF8)
        throw Error(ErrorKind::MissingConfig, "contractor_verify needs a database in the UTF8 encoding",
                    "The API's answers are UTF-8 and are kept as they came; create the database "
                    "WITH ENCODING 'UTF8'.");
    if (version == nullptr || std::strcmp(version, core::kExtensionVersion) != 0)
        throw Error(ErrorKind::MissingConfig,
                    std::string("the SQL objects of contractor_verify are version ") +
                        (version ? version : "unknown") + " but its library is version " +
                        core::kExtensionVersion,
                    "Run ALTER EXTENSION contractor_verify UPDATE; to bring them up to date.");
    if (!OidIsValid(c.data_schema) || ext_of_schema != c.extension)
        reinstall("schema contractor_verify is missing or does not belong to the extension");

    pg_call([&] {
        c.cache = get_relname_relid("license_cache", c.data_schema);
        c.history = get_relname_relid("verification_history", c.data_schema);
        const Oid key = get_relname_relid("license_cache_pkey", c.data_schema);
        if (!OidIsValid(c.cache) || !OidIsValid(c.history) || !OidIsValid(key)) return;
        if (getExtensionOfObject(RelationRelationId, c.cache) != c.extension ||
            getExtensionOfObject(RelationRelationId, c.history) != c.extension)
            return;
        HeapTuple idx = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(key));
        if (HeapTupleIsValid(idx)) {
            if (reinterpret_cast<Form_pg_index>(GETSTRUCT(idx))->indrelid == c.cache) c.cache_key = key;
            ReleaseSysCache(idx);
        }
        c.owner = relation_owner(c.cache);
        // cv_result lives in the schema the extension was created in.
        const Oid type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("cv_result"),
                                         ObjectIdGetDatum(ext_schema));
        if (OidIsValid(type) && getExtensionOfObject(TypeRelationId, type) == c.extension)
            c.result_type = type;
        for (int i = 0; i < kCacheColumnCount; ++i)
            c.cache_att[i] = get_attnum(c.cache, kCacheColumnNames[i]);
    });
    if (!OidIsValid(c.cache_key)) reinstall("its tables are missing or not its own");
    if (!OidIsValid(c.result_type)) reinstall("its type cv_result is missing or not its own");
    for (int i = 0; i < kCacheColumnCount; ++i)
        if (c.cache_att[i] == InvalidAttrNumber)
            reinstall(std::string("column license_cache.") + kCacheColumnNames[i] + " is missing");

    cached = c;
    valid = true;
    return cached;
}

}  // namespace cv::pg
