#include "pg/core_first.h"
#include "core/cache_rules.h"
#include "core/error.h"
#include "core/key_plan.h"
#include "core/options.h"

#include "pg/fdw_plan.h"

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/runtime.h"
#include "pg/server_context.h"

extern "C" {
#include "access/table.h"
#include "access/xact.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace cv::pg {

namespace {

// Rows the planner assumes for a relation without keys: the scan is refused
// if it is ever chosen, so the figure only shapes join estimates.
constexpr double kKeylessRows = 1000;

// Columns, keys and the relation's own quals (Postgres code).
FdwRelInfo* describe_rel(PlannerInfo* root, RelOptInfo* baserel, Oid table) {
    FdwRelInfo* info = static_cast<FdwRelInfo*>(palloc0(sizeof(FdwRelInfo)));
    info->server = baserel->serverid;
    info->table = table;
    info->expected_hits = -1;
    info->batch_size = 100;
    Relation rel = table_open(table, NoLock);
    info->table_name = pstrdup(RelationGetRelationName(rel));
    info->natts = RelationGetDescr(rel)->natts;
    info->columns = map_table_columns(rel, &info->keys);
    table_close(rel, NoLock);
    RangeTblEntry* rte = planner_rt_fetch(baserel->relid, root);
    info->check_as_user = rte->checkAsUser;
    info->has_keys = find_keys(root, baserel->baserestrictinfo, baserel->relid,
                               baserel->lateral_relids, info->keys, &info->spec);
    if (info->has_keys) {
        const KeyCount count = count_keys(info->spec);
        info->key_rows = count.keys;
        info->lookups = count.keys;
    }
    return info;
}

// With constant keys, how many rows and lookups they make and how many of
// those the cache answers now: the cost and EXPLAIN's expectation.
void probe_constant_keys(FdwRelInfo* info) {
    const core::ServerSettings settings = server_settings(info->server);
    info->batch_size = settings.batch_size;
    KeyValues values;
    if (!info->has_keys || !constant_key_values(info->spec.exprs, values)) return;
    // In parallel mode (a function wrongly marked PARALLEL SAFE) the cache
    // cannot be read; the scan is refused when it runs.
    if (pg_value([] { return IsInParallelMode(); })) return;
    core::KeyPlanner planner;
    add_keys(info->spec.ways, values, planner);
    info->key_rows = static_cast<double>(planner.rows().size());
    info->lookups = static_cast<double>(planner.lookups().size());
    // Only for a role that may use the server: the count says what the cache holds.
    const bool usage = pg_value([&] {
        return pg_foreign_server_aclcheck(info->server, GetUserId(), ACL_USAGE) == ACLCHECK_OK;
    });
    if (!usage) return;
    CacheReader reader(extension_catalog());
    CachedRow row;
    std::int64_t hits = 0;
    const std::int64_t now = unix_now_ms();
    for (const auto& item : planner.lookups()) {
        if (item.license_number.empty()) continue;  // by name: never cached
        reader.probe(settings.url, item.state, item.license_number, row);
        if (core::classify_cached(row.head(), now, settings, std::nullopt) !=
            core::CacheVerdict::Miss)
            ++hits;
    }
    info->expected_hits = static_cast<double>(hits);
}

double other_quals_selectivity(PlannerInfo* root, RelOptInfo* baserel, const KeySpec& spec) {
    List* others = NIL;
    ListCell* lc;
    foreach (lc, baserel->baserestrictinfo)
        if (!list_member_ptr(spec.key_clauses, lfirst(lc))) others = lappend(others, lfirst(lc));
    return clauselist_selectivity(root, others, baserel->relid, JOIN_INNER, nullptr);
}

bool ec_member_is_column(PlannerInfo*, RelOptInfo* rel, EquivalenceClass*, EquivalenceMember* em,
                         void* arg) {
    Expr* e = em->em_expr;
    while (IsA(e, RelabelType)) e = castNode(RelabelType, e)->arg;
    if (!IsA(e, Var)) return false;
    Var* var = castNode(Var, e);
    return var->varno == static_cast<int>(rel->relid) && var->varlevelsup == 0 &&
           var->varattno == *static_cast<AttrNumber*>(arg);
}

// The sets of other relations whose columns could give this relation its
// keys in a nested loop: each join clause's, and all of them together.
List* outer_rel_sets(PlannerInfo* root, RelOptInfo* baserel, const KeyAttributes& keys) {
    List* clauses = NIL;
    ListCell* lc;
    foreach (lc, baserel->joininfo) {
        RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
        if (join_clause_is_movable_to(rinfo, baserel)) clauses = lappend(clauses, rinfo);
    }
    AttrNumber columns[] = {keys.state, keys.license_number, keys.lookup_name, keys.business_name};
    for (AttrNumber& attno : columns) {
        if (attno == 0) continue;
        clauses = list_concat(
            clauses, generate_implied_equalities_for_column(root, baserel, ec_member_is_column,
                                                            &attno, baserel->lateral_referencers));
    }
    List* sets = NIL;
    Relids all = nullptr;
    foreach (lc, clauses) {
        RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
        Relids outer = bms_union(bms_difference(rinfo->clause_relids, baserel->relids),
                                 baserel->lateral_relids);
        if (bms_is_empty(outer) || bms_overlap(outer, baserel->relids)) continue;
        all = bms_union(all, outer);
        bool seen = false;
        ListCell* s;
        foreach (s, sets) seen = seen || bms_equal(static_cast<Relids>(lfirst(s)), outer);
        if (!seen) sets = lappend(sets, outer);
    }
    if (all != nullptr && list_length(sets) > 1) sets = lappend(sets, all);
    return sets;
}

void add_parameterized_paths(PlannerInfo* root, RelOptInfo* baserel, FdwRelInfo* info) {
    ListCell* lc;
    foreach (lc, outer_rel_sets(root, baserel, info->keys)) {
        Relids outer = static_cast<Relids>(lfirst(lc));
        ParamPathInfo* ppi = get_baserel_parampathinfo(root, baserel, outer);
        if (ppi == nullptr) continue;
        KeySpec spec;
        List* clauses = list_concat_copy(baserel->baserestrictinfo, ppi->ppi_clauses);
        if (!find_keys(root, clauses, baserel->relid, outer, info->keys, &spec)) continue;
        const double keys = count_keys(spec).keys;
        const double rows = clamp_row_est(keys * other_quals_selectivity(root, baserel, spec));
        // Every rescan looks its keys up alone: nothing says the cache holds them.
        const double cost = core::lookup_cost(keys, keys, info->batch_size);
        add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(
                              root, baserel, nullptr, rows, cost, cost + rows * cpu_tuple_cost, NIL,
                              outer, nullptr, NIL)));
    }
}

List* int_list(const int* values, int n) {
    List* out = NIL;
    for (int i = 0; i < n; ++i) out = lappend_int(out, values[i]);
    return out;
}

int clamp_int(double v) {
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : static_cast<int>(v);
}

}  // namespace

FdwRelInfo* fdw_rel_info(RelOptInfo* rel) {
    if (rel == nullptr || rel->reloptkind != RELOPT_BASEREL || rel->fdwroutine == nullptr ||
        rel->fdwroutine->GetForeignRelSize != fdw_get_rel_size || rel->fdw_private == nullptr)
        return nullptr;
    return static_cast<FdwRelInfo*>(rel->fdw_private);
}

void refuse_keyless_scan(const FdwRelInfo* info) {
    const char* value_columns =
        info->keys.license_number != 0 && info->keys.lookup_name != 0
            ? "license_number (or lookup_name, to look a business up by name)"
        : info->keys.license_number != 0 ? "license_number"
        : info->keys.lookup_name != 0    ? "lookup_name"
                                         : "business_name";
    ereport(
        ERROR,
        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
         errmsg("foreign table \"%s\" can only be read by key", info->table_name),
         errdetail(
             "The ContractorVerify API looks licenses up by key; it has no way to list them."),
         errhint(
             "Constrain state and %s with = or IN (or = ANY) to constants, parameters, or the "
             "columns of a table it is joined to. contractor_verify.licenses lists what the cache "
             "holds.",
             value_columns)));
}

void fdw_get_rel_size(PlannerInfo* root, RelOptInfo* baserel, Oid table) {
    guard([&] {
        FdwRelInfo* info = nullptr;
        pg_call([&] { info = describe_rel(root, baserel, table); });
        probe_constant_keys(info);
        pg_call([&] {
            baserel->fdw_private = info;
            if (info->has_keys) {
                baserel->rows = clamp_row_est(info->key_rows *
                                              other_quals_selectivity(root, baserel, info->spec));
                baserel->tuples = info->key_rows;
            } else {
                baserel->rows = kKeylessRows;
                baserel->tuples = kKeylessRows;
            }
        });
    });
}

void fdw_get_paths(PlannerInfo* root, RelOptInfo* baserel, Oid) {
    guard([&] {
        pg_call([&] {
            FdwRelInfo* info = static_cast<FdwRelInfo*>(baserel->fdw_private);
            if (info->has_keys) {
                const double misses =
                    info->expected_hits >= 0 ? info->lookups - info->expected_hits : info->lookups;
                const double cost = core::lookup_cost(info->lookups, misses, info->batch_size);
                add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(
                                      root, baserel, nullptr, baserel->rows, cost,
                                      cost + baserel->rows * cpu_tuple_cost, NIL,
                                      baserel->lateral_relids, nullptr, NIL)));
                return;
            }
            // Without keys the scan cannot run; the path only keeps the
            // planner going until a join gives it keys (a nested loop's
            // parameters, or the batched join), and is refused if chosen.
            add_path(baserel,
                     reinterpret_cast<Path*>(create_foreignscan_path(
                         root, baserel, nullptr, baserel->rows, disable_cost, disable_cost, NIL,
                         baserel->lateral_relids, nullptr, lappend(NIL, makeInteger(1)))));
            add_parameterized_paths(root, baserel, info);
        });
    });
}

ForeignScan* fdw_get_plan(PlannerInfo* root, RelOptInfo* baserel, Oid, ForeignPath* best_path,
                          List* tlist, List* scan_clauses, Plan* outer_plan) {
    return guard([&] {
        ForeignScan* plan = nullptr;
        pg_call([&] {
            FdwRelInfo* info = static_cast<FdwRelInfo*>(baserel->fdw_private);
            Relids outer = PATH_REQ_OUTER(&best_path->path);
            KeySpec spec;
            if (best_path->fdw_private != NIL ||
                !find_keys(root, scan_clauses, baserel->relid, outer, info->keys, &spec))
                refuse_keyless_scan(info);
            const bool per_rescan = !bms_is_empty(outer);
            const KeyCount count = count_keys(spec);
            int figures[kFigCount];
            figures[kFigKeyRows] = clamp_int(per_rescan ? count.keys : info->key_rows);
            figures[kFigKeysExact] = count.exact ? 1 : 0;
            figures[kFigKeysConstant] = count.constant ? 1 : 0;
            figures[kFigLookups] = clamp_int(per_rescan ? count.keys : info->lookups);
            figures[kFigExpectedHits] = per_rescan ? -1 : clamp_int(info->expected_hits);
            figures[kFigBatchSize] = info->batch_size;
            figures[kFigPerRescan] = per_rescan ? 1 : 0;
            // The other quals on key columns alone are checked on each key
            // before it is looked up.
            List* masks = NIL;
            List* key_qual_list =
                key_quals(scan_clauses, spec.key_clauses, baserel->relid, info->keys, &masks);
            List* priv = NIL;
            priv = lappend(priv, spec.ways);
            priv = lappend(priv, int_list(info->columns, info->natts));
            priv = lappend(priv, int_list(figures, kFigCount));
            priv = lappend(priv, makeString(info->table_name));
            priv = lappend(priv, masks);
            plan = make_foreignscan(tlist, extract_actual_clauses(scan_clauses, false),
                                    baserel->relid, list_concat_copy(spec.exprs, key_qual_list),
                                    priv, NIL, NIL, outer_plan);
        });
        return plan;
    });
}

}  // namespace cv::pg
