#include "pg/core_first.h"
#include "core/key_plan.h"

#include "pg/fdw_join.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "pg/fdw_columns.h"
#include "pg/fdw_explain.h"
#include "pg/fdw_fetch.h"
#include "pg/fdw_keys.h"
#include "pg/fdw_plan.h"
#include "pg/guard.h"
#include "pg/run_backstop.h"
#include "pg/memory_scope.h"
#include "pg/roster.h"

extern "C" {
#include "access/table.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "access/htup_details.h"
}

namespace cv::pg {

namespace {

constexpr const char* kName = "ContractorVerify Join";

set_join_pathlist_hook_type previous_hook = nullptr;

// The path's custom_private: these ints, then the key expressions and the clauses.
enum PathField { kPathInts, kPathStateExpr, kPathValueExpr, kPathRestrict, kPathInnerQuals };
enum PathInt { kPiJoinType, kPiKind, kPiInnerRelid, kPiBatchSize, kPiEstimatedKeys, kPiColumn };
// The plan's custom_private: these ints, the inner columns, the OIDs, the table name.
enum PlanField { kPlanInts, kPlanColumns, kPlanOids, kPlanTableName };
enum PlanInt {
    kJoinType,
    kKind,
    kOuterColumns,
    kBatchSize,
    kEstimatedKeys,
    kColumn,    // the KeyColumnBit of the column looked up by
    kWholeRow,  // 1: the scan tuple ends with the foreign table's whole row
    kPlanIntCount
};
enum PlanOid { kServer, kCheckAsUser, kRowType };
// The plan's custom_exprs; kKeyQuals: the quals a key is checked with before
// it is looked up (KeyFilter's, on the scan tuple).
enum PlanExpr { kStateExpr, kValueExpr, kMatchQuals, kKeyQuals };

// Filled in by fdw_join_init().
CustomPathMethods path_methods;
CustomScanMethods scan_methods;
CustomExecMethods exec_methods;

// --- planning ---------------------------------------------------------------

// The keys of the inner (foreign) relation the join gives: its state from a
// join clause or its own quals, and what it looks up by from a join clause.
struct JoinKeys {
    Expr* state = nullptr;
    Expr* value = nullptr;
    int value_rank = -1;  // lookup_name 3, license_number 2, business_name 1
    core::KeyKind kind = core::KeyKind::License;
    int column = 0;  // the KeyColumnBit of the column looked up by
};

int value_rank(const KeyAttributes& keys, AttrNumber attno) {
    if (attno == keys.lookup_name) return 3;
    if (attno == keys.license_number) return 2;
    if (attno == keys.business_name) return 1;
    return -1;
}

void consider(PlannerInfo* root, RestrictInfo* rinfo, RelOptInfo* inner, Relids outer,
              const FdwRelInfo* info, bool from_join, JoinKeys* jk) {
    if (rinfo->pseudoconstant) return;
    KeyEquality eq;
    if (!match_key_equality(root, rinfo->clause, inner->relid, outer, info->keys, &eq) ||
        eq.is_array)
        return;
    if (eq.attno == info->keys.state) {
        if (jk->state == nullptr) jk->state = eq.value;
        return;
    }
    // What the rows are looked up by must vary with the outer row.
    if (!from_join || !bms_overlap(pull_varnos(root, reinterpret_cast<Node*>(eq.value)), outer))
        return;
    const int rank = value_rank(info->keys, eq.attno);
    if (rank <= jk->value_rank) return;
    jk->value = eq.value;
    jk->value_rank = rank;
    jk->kind = eq.attno == info->keys.license_number ? core::KeyKind::License : core::KeyKind::Name;
    jk->column = eq.attno == info->keys.license_number ? kLicenseBit
                 : eq.attno == info->keys.lookup_name  ? kLookupNameBit
                                                       : kBusinessNameBit;
}

// The join gives the foreign table's columns and its whole row (which
// UPDATE ... FROM, DELETE ... USING and SELECT ... FOR UPDATE keep of every
// joined row, for a concurrent update's recheck), nothing else.
bool needs_only_columns_or_row(RelOptInfo* inner) {
    ListCell* lc;
    foreach (lc, inner->reltarget->exprs) {
        Node* node = static_cast<Node*>(lfirst(lc));
        if (!IsA(node, Var) || castNode(Var, node)->varattno < 0) return false;
    }
    return true;
}

bool needs_whole_row(RelOptInfo* inner) {
    ListCell* lc;
    foreach (lc, inner->reltarget->exprs) {
        Node* node = static_cast<Node*>(lfirst(lc));
        if (IsA(node, Var) && castNode(Var, node)->varattno == InvalidAttrNumber) return true;
    }
    return false;
}

void add_join_path(PlannerInfo* root, RelOptInfo* joinrel, RelOptInfo* outerrel,
                   RelOptInfo* innerrel, JoinType jointype, JoinPathExtraData* extra,
                   FdwRelInfo* info) {
    Path* outer_path = outerrel->cheapest_total_path;
    if (outer_path == nullptr || outer_path->param_info != nullptr) return;
    if (jointype == JOIN_UNIQUE_OUTER) {
        // `license_number IN (SELECT ...)`: the subquery's distinct rows, joined.
        outer_path =
            reinterpret_cast<Path*>(create_unique_path(root, outerrel, outer_path, extra->sjinfo));
        if (outer_path == nullptr) return;
        jointype = JOIN_INNER;
    }
    if (jointype != JOIN_INNER && jointype != JOIN_LEFT && jointype != JOIN_SEMI &&
        jointype != JOIN_ANTI)
        return;
    if (!bms_is_empty(innerrel->lateral_relids) || !bms_is_empty(joinrel->lateral_relids)) return;
    if (!needs_only_columns_or_row(innerrel)) return;
    ListCell* lc;
    foreach (lc, extra->restrictlist)
        if (lfirst_node(RestrictInfo, lc)->pseudoconstant) return;

    JoinKeys jk;
    foreach (lc, extra->restrictlist)
        consider(root, lfirst_node(RestrictInfo, lc), innerrel, outerrel->relids, info, true, &jk);
    foreach (lc, innerrel->baserestrictinfo)
        consider(root, lfirst_node(RestrictInfo, lc), innerrel, nullptr, info, false, &jk);
    if (jk.state == nullptr || jk.value == nullptr) return;

    // Cost: the outer side, then its distinct keys (all assumed live: which
    // ones the cache holds is known only once they are read). Before the
    // first row: the cache pass and the first round of purchases, one call;
    // the other rounds come as the rows need them, so a plan that stops
    // early (LIMIT, a cursor) is charged only the first.
    const double outer_rows = outer_path->rows;
    List* key_exprs = lappend(lappend(NIL, jk.state), jk.value);
    const double keys = estimate_num_groups(root, key_exprs, outer_rows, nullptr, nullptr);
    QualCost quals;
    cost_qual_eval(&quals, extra->restrictlist, root);
    QualCost inner_quals;
    cost_qual_eval(&inner_quals, innerrel->baserestrictinfo, root);
    const double first_round = std::min(keys, static_cast<double>(std::max(info->batch_size, 1)));
    const double first_cost = core::lookup_cost(keys, first_round, info->batch_size);
    const double startup = outer_path->total_cost + first_cost + quals.startup + inner_quals.startup;
    const double run = core::lookup_cost(keys, keys, info->batch_size) - first_cost +
                       outer_rows * (2 * cpu_tuple_cost + quals.per_tuple + inner_quals.per_tuple);

    CustomPath* path = makeNode(CustomPath);
    path->path.pathtype = T_CustomScan;
    path->path.parent = joinrel;
    path->path.pathtarget = joinrel->reltarget;
    path->path.param_info = nullptr;
    path->path.parallel_aware = false;
    path->path.parallel_safe = false;
    path->path.parallel_workers = 0;
    path->path.rows = joinrel->rows;
    path->path.startup_cost = startup;
    path->path.total_cost = startup + run;
    // Rows come out in the outer side's order.
    path->path.pathkeys = build_join_pathkeys(root, joinrel, jointype, outer_path->pathkeys);
    path->flags = 0;
    path->custom_paths = lappend(NIL, outer_path);
    List* ints = NIL;
    ints = lappend_int(ints, jointype);
    ints = lappend_int(ints, static_cast<int>(jk.kind));
    ints = lappend_int(ints, static_cast<int>(innerrel->relid));
    ints = lappend_int(ints, info->batch_size);
    ints = lappend_int(ints, keys > INT32_MAX ? INT32_MAX : static_cast<int>(keys));
    ints = lappend_int(ints, jk.column);
    List* priv = NIL;
    priv = lappend(priv, ints);
    priv = lappend(priv, jk.state);
    priv = lappend(priv, jk.value);
    priv = lappend(priv, extra->restrictlist);
    priv = lappend(priv, innerrel->baserestrictinfo);
    path->custom_private = priv;
    path->methods = &path_methods;
    add_path(joinrel, &path->path);
}

void join_pathlist_hook(PlannerInfo* root, RelOptInfo* joinrel, RelOptInfo* outerrel,
                        RelOptInfo* innerrel, JoinType jointype, JoinPathExtraData* extra) {
    if (previous_hook != nullptr) previous_hook(root, joinrel, outerrel, innerrel, jointype, extra);
    FdwRelInfo* info = fdw_rel_info(innerrel);
    if (info == nullptr) return;
    guard([&] {
        pg_call([&] { add_join_path(root, joinrel, outerrel, innerrel, jointype, extra, info); });
    });
}

Plan* plan_join_path(PlannerInfo* root, RelOptInfo* joinrel, CustomPath* best_path, List* tlist,
                     List*, List* custom_plans) {
    Plan* result = nullptr;
    guard([&] {
        pg_call([&] {
            List* ints = static_cast<List*>(list_nth(best_path->custom_private, kPathInts));
            const auto jointype = static_cast<JoinType>(list_nth_int(ints, kPiJoinType));
            const Index inner_relid = static_cast<Index>(list_nth_int(ints, kPiInnerRelid));
            List* restrictions =
                static_cast<List*>(list_nth(best_path->custom_private, kPathRestrict));
            List* inner_rinfos =
                static_cast<List*>(list_nth(best_path->custom_private, kPathInnerQuals));
            FdwRelInfo* info = fdw_rel_info(root->simple_rel_array[inner_relid]);
            Plan* outer_plan = static_cast<Plan*>(linitial(custom_plans));

            // The scan tuple: the outer side's columns, then the foreign table's.
            List* scan_tlist = NIL;
            AttrNumber resno = 1;
            ListCell* lc;
            foreach (lc, outer_plan->targetlist) {
                TargetEntry* tle = lfirst_node(TargetEntry, lc);
                scan_tlist = lappend(scan_tlist,
                                     makeTargetEntry(static_cast<Expr*>(copyObjectImpl(tle->expr)),
                                                     resno++, nullptr, false));
            }
            const int outer_columns = list_length(scan_tlist);
            List* inner_columns = NIL;
            Relation rel = table_open(info->table, NoLock);
            TupleDesc desc = RelationGetDescr(rel);
            for (int i = 0; i < desc->natts; ++i) {
                Form_pg_attribute att = TupleDescAttr(desc, i);
                if (info->columns[i] < 0) continue;
                Var* var = makeVar(inner_relid, att->attnum, att->atttypid, att->atttypmod,
                                   att->attcollation, 0);
                scan_tlist =
                    lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr*>(var), resno++,
                                                        pstrdup(NameStr(att->attname)), false));
                inner_columns = lappend_int(inner_columns, info->columns[i]);
            }
            const Oid row_type = RelationGetForm(rel)->reltype;
            table_close(rel, NoLock);
            // Then the whole row, when the query keeps it.
            const bool whole_row = needs_whole_row(root->simple_rel_array[inner_relid]);
            if (whole_row)
                scan_tlist = lappend(
                    scan_tlist,
                    makeTargetEntry(reinterpret_cast<Expr*>(makeVar(inner_relid, InvalidAttrNumber,
                                                                    row_type, -1, InvalidOid, 0)),
                                    resno++, nullptr, false));

            // A row matches when the join's clauses and the foreign table's
            // own quals hold; an outer (left or anti) join then filters with
            // the clauses pushed down to it. Inner and semi joins treat every
            // clause alike, as a nested loop does.
            List* match_quals = NIL;
            List* plan_quals = NIL;
            List* match_rinfos = NIL;
            if (!IS_OUTER_JOIN(jointype)) {
                match_quals = extract_actual_clauses(restrictions, false);
                match_rinfos = list_copy(restrictions);
            } else {
                extract_actual_join_clauses(restrictions, joinrel->relids, &match_quals,
                                            &plan_quals);
                foreach (lc, restrictions) {
                    RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
                    if (!RINFO_IS_PUSHED_DOWN(rinfo, joinrel->relids))
                        match_rinfos = lappend(match_rinfos, rinfo);
                }
            }
            match_quals = list_concat(match_quals, extract_actual_clauses(inner_rinfos, false));
            match_rinfos = list_concat(match_rinfos, inner_rinfos);
            // Those of them on the foreign table's key columns alone (with
            // the outer side's columns) are checked on each outer row's key
            // before it is looked up.
            const int column = list_nth_int(ints, kPiColumn);
            List* masks = NIL;
            List* candidates = key_quals(match_rinfos, NIL, inner_relid, info->keys, &masks);
            List* key_qual_list = NIL;
            ListCell* m;
            forboth(lc, candidates, m, masks) {
                if ((lfirst_int(m) & ~key_columns_known(column)) == 0)
                    key_qual_list = lappend(key_qual_list, lfirst(lc));
            }

            List* plan_ints = NIL;
            plan_ints = lappend_int(plan_ints, jointype);
            plan_ints = lappend_int(plan_ints, list_nth_int(ints, kPiKind));
            plan_ints = lappend_int(plan_ints, outer_columns);
            plan_ints = lappend_int(plan_ints, list_nth_int(ints, kPiBatchSize));
            plan_ints = lappend_int(plan_ints, list_nth_int(ints, kPiEstimatedKeys));
            plan_ints = lappend_int(plan_ints, column);
            plan_ints = lappend_int(plan_ints, whole_row ? 1 : 0);
            List* oids = lappend_oid(lappend_oid(NIL, info->server), info->check_as_user);
            oids = lappend_oid(oids, row_type);

            CustomScan* scan = makeNode(CustomScan);
            scan->scan.plan.targetlist = tlist;
            scan->scan.plan.qual = plan_quals;
            scan->scan.scanrelid = 0;
            scan->flags = best_path->flags;
            scan->custom_plans = custom_plans;
            List* exprs = NIL;
            exprs =
                lappend(exprs, copyObjectImpl(list_nth(best_path->custom_private, kPathStateExpr)));
            exprs =
                lappend(exprs, copyObjectImpl(list_nth(best_path->custom_private, kPathValueExpr)));
            exprs = lappend(exprs, match_quals);
            exprs = lappend(exprs, key_qual_list);
            scan->custom_exprs = exprs;
            List* priv = NIL;
            priv = lappend(priv, plan_ints);
            priv = lappend(priv, inner_columns);
            priv = lappend(priv, oids);
            priv = lappend(priv, makeString(info->table_name));
            scan->custom_private = priv;
            scan->custom_scan_tlist = scan_tlist;
            scan->methods = &scan_methods;
            result = &scan->scan.plan;
        });
    });
    return result;
}

// --- execution --------------------------------------------------------------

// The C++ side of a running join.
struct JoinRun {
    core::KeyPlanner keys;
    std::vector<std::int64_t> row_of;  // per outer row: its key's row, or -1 for none
    std::unique_ptr<FetchedRows> rows;
    std::size_t next_outer = 0;
    bool prepared = false;
    std::int64_t outer_rows = 0;
    FetchStats stats;
};

struct JoinState {
    CustomScanState css;  // first: the executor sees a CustomScanState
    JoinType jointype;
    core::KeyKind kind;
    int outer_columns;
    int inner_count;
    int* inner_columns;
    int batch_size;
    int estimated_keys;
    Oid server;
    Oid user;
    char* table_name;
    ExprState* state_expr;
    ExprState* value_expr;
    ExprState* match_qual;
    ExprState* key_qual;
    int column;
    int key_positions[4];  // in the scan tuple: state, license_number, lookup_name, business_name
    TupleDesc result_desc;
    TupleDesc row_desc;        // the foreign table's row type, dropped columns included
    int whole_row_pos;         // its whole row's position in the scan tuple, or -1
    Index inner_rti;           // the foreign table's range table index (EvalPlanQual)
    TupleTableSlot* epq_slot;  // its row kept for a recheck
    Tuplestorestate* outer_store;
    TupleTableSlot* outer_slot;
    MemoryContext keep;
    JoinRun* run;
    MemoryContextCallback backstop;
};

PlanState* outer_state(JoinState* js) {
    return static_cast<PlanState*>(linitial(js->css.custom_ps));
}

Node* create_join_state(CustomScan*) {
    auto* js = static_cast<JoinState*>(palloc0(sizeof(JoinState)));
    NodeSetTag(js, T_CustomScanState);
    js->css.methods = &exec_methods;
    return reinterpret_cast<Node*>(js);
}

void begin_join(CustomScanState* node, EState* estate, int eflags) {
    auto* js = reinterpret_cast<JoinState*>(node);
    guard([&] {
        pg_call([&] {
            CustomScan* plan = castNode(CustomScan, node->ss.ps.plan);
            node->custom_ps = lappend(
                NIL,
                ExecInitNode(static_cast<Plan*>(linitial(plan->custom_plans)), estate, eflags));
            js->state_expr = ExecInitExpr(
                static_cast<Expr*>(list_nth(plan->custom_exprs, kStateExpr)), &node->ss.ps);
            js->value_expr = ExecInitExpr(
                static_cast<Expr*>(list_nth(plan->custom_exprs, kValueExpr)), &node->ss.ps);
            js->match_qual = ExecInitQual(
                static_cast<List*>(list_nth(plan->custom_exprs, kMatchQuals)), &node->ss.ps);
            js->key_qual = ExecInitQual(static_cast<List*>(list_nth(plan->custom_exprs, kKeyQuals)),
                                        &node->ss.ps);
            List* ints = static_cast<List*>(list_nth(plan->custom_private, kPlanInts));
            js->jointype = static_cast<JoinType>(list_nth_int(ints, kJoinType));
            js->kind = static_cast<core::KeyKind>(list_nth_int(ints, kKind));
            js->outer_columns = list_nth_int(ints, kOuterColumns);
            js->batch_size = list_nth_int(ints, kBatchSize);
            js->estimated_keys = list_nth_int(ints, kEstimatedKeys);
            js->column = list_nth_int(ints, kColumn);
            List* columns = static_cast<List*>(list_nth(plan->custom_private, kPlanColumns));
            js->inner_count = list_length(columns);
            js->inner_columns = static_cast<int*>(palloc(sizeof(int) * (js->inner_count + 1)));
            int i = 0;
            ListCell* lc;
            foreach (lc, columns) js->inner_columns[i++] = lfirst_int(lc);
            for (int& p : js->key_positions) p = -1;
            for (int c = 0; c < js->inner_count; ++c) {
                const int id = js->inner_columns[c];
                const int pos = js->outer_columns + c;
                if (id == kResState) js->key_positions[0] = pos;
                if (id == kResLicenseNumber) js->key_positions[1] = pos;
                if (id == kLookupNameColumn) js->key_positions[2] = pos;
                if (id == kResBusinessName) js->key_positions[3] = pos;
            }
            List* oids = static_cast<List*>(list_nth(plan->custom_private, kPlanOids));
            js->server = list_nth_oid(oids, kServer);
            js->user = list_nth_oid(oids, kCheckAsUser);
            js->table_name = strVal(list_nth(plan->custom_private, kPlanTableName));
            js->keep = estate->es_query_cxt;
            // The foreign table's first column in the scan tuple names its
            // range table index (set_plan_refs offsets it).
            TargetEntry* first_inner =
                list_nth_node(TargetEntry, plan->custom_scan_tlist, js->outer_columns);
            js->inner_rti = castNode(Var, first_inner->expr)->varno;
            js->whole_row_pos = -1;
            if (list_nth_int(ints, kWholeRow) != 0)
                js->whole_row_pos = js->outer_columns + js->inner_count;
            MemoryContext old = MemoryContextSwitchTo(js->keep);
            js->row_desc = lookup_rowtype_tupdesc_copy(list_nth_oid(oids, kRowType), -1);
            MemoryContextSwitchTo(old);
            js->epq_slot = ExecInitExtraTupleSlot(estate, js->row_desc, &TTSOpsVirtual);
        });
        if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;
        MemoryContext old = MemoryContextSwitchTo(js->keep);
        js->result_desc = result_descriptor();
        MemoryContextSwitchTo(old);
        pg_call([&] {
            js->outer_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(outer_state(js)),
                                                    &TTSOpsMinimalTuple);
            js->backstop.func = drop_run_on_reset<JoinState>;
            js->backstop.arg = js;
            MemoryContextRegisterResetCallback(js->keep, &js->backstop);
        });
        js->run = new JoinRun();
    });
}

// Places an outer row in the scan tuple, the foreign table's columns (and
// its whole row) NULL.
void place_outer(JoinState* js, TupleTableSlot* outer, TupleTableSlot* scan) {
    pg_call([&] {
        ExecClearTuple(scan);
        slot_getallattrs(outer);
        for (int i = 0; i < js->outer_columns; ++i) {
            scan->tts_values[i] = outer->tts_values[i];
            scan->tts_isnull[i] = outer->tts_isnull[i];
        }
        for (int i = js->outer_columns; i < scan->tts_tupleDescriptor->natts; ++i) {
            scan->tts_values[i] = 0;
            scan->tts_isnull[i] = true;
        }
        ExecStoreVirtualTuple(scan);
    });
}

// Postgres code. The foreign table's whole row from its columns in the scan
// tuple, when the plan keeps it (in the current memory context).
void place_whole_row(JoinState* js, TupleTableSlot* scan) {
    if (js->whole_row_pos < 0) return;
    const int natts = js->row_desc->natts;
    Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * natts));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * natts));
    int pos = js->outer_columns;
    for (int i = 0; i < natts; ++i) {
        if (TupleDescAttr(js->row_desc, i)->attisdropped) {
            values[i] = 0;
            nulls[i] = true;
            continue;
        }
        values[i] = scan->tts_values[pos];
        nulls[i] = scan->tts_isnull[pos];
        ++pos;
    }
    HeapTuple tuple = heap_form_tuple(js->row_desc, values, nulls);
    scan->tts_values[js->whole_row_pos] = heap_copy_tuple_as_datum(tuple, js->row_desc);
    scan->tts_isnull[js->whole_row_pos] = false;
}

// The text of a key expression for the outer row in the scan tuple; false when NULL.
bool eval_text(ExprState* expr, ExprContext* econtext, std::string& out) {
    char* s = nullptr;
    pg_call([&] {
        bool isnull = false;
        const Datum d = ExecEvalExpr(expr, econtext, &isnull);
        if (!isnull) s = text_to_cstring(DatumGetTextPP(d));
    });
    if (s == nullptr) return false;
    out = to_utf8(s);
    return true;
}

// Whether the join's quals on the key columns alone admit an outer row's key
// (KeyFilter): the key's columns are placed in the scan tuple beside the
// outer row's, the foreign table's other columns NULL.
bool key_admitted(JoinState* js, TupleTableSlot* scan, ExprContext* econtext,
                  const std::string& state, const std::string& value) {
    if (js->key_qual == nullptr) return true;
    bool admitted = true;
    pg_call([&] {
        auto set = [&](int pos, const std::string& s) {
            if (pos < 0) return;
            scan->tts_values[pos] =
                PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
            scan->tts_isnull[pos] = false;
        };
        set(js->key_positions[0], state);
        if (js->column == kLicenseBit) set(js->key_positions[1], value);
        if (js->column != kLicenseBit) set(js->key_positions[2], value);
        if (js->column == kBusinessNameBit) set(js->key_positions[3], value);
        econtext->ecxt_scantuple = scan;
        admitted = ExecQual(js->key_qual, econtext);
    });
    return admitted;
}

// Reads the whole outer side, collecting each row's key, then answers the
// distinct keys from the cache; the rest are bought as the rows that need
// them are joined (FetchedRows).
void prepare(JoinState* js) {
    JoinRun& run = *js->run;
    PlanState* outer = outer_state(js);
    ExprContext* econtext = js->css.ss.ps.ps_ExprContext;
    TupleTableSlot* scan = js->css.ss.ss_ScanTupleSlot;
    pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(js->keep);
        if (js->outer_store != nullptr) tuplestore_end(js->outer_store);
        js->outer_store = tuplestore_begin_heap(false, false, work_mem);
        MemoryContextSwitchTo(old);
    });
    std::string state, value;
    for (;;) {
        TupleTableSlot* slot = nullptr;
        pg_call([&] {
            ResetExprContext(econtext);
            slot = ExecProcNode(outer);
            if (!TupIsNull(slot)) tuplestore_puttupleslot(js->outer_store, slot);
        });
        if (TupIsNull(slot)) break;
        ++run.outer_rows;
        std::int64_t row = -1;
        {
            MemoryScope per_row(econtext->ecxt_per_tuple_memory);
            place_outer(js, slot, scan);
            econtext->ecxt_scantuple = scan;
            if (eval_text(js->state_expr, econtext, state) &&
                eval_text(js->value_expr, econtext, value) &&
                key_admitted(js, scan, econtext, state, value))
                row = run.keys.add(state, value, js->kind, js->column == kBusinessNameBit);
        }
        run.row_of.push_back(row);
    }
    pg_call([&] { ResetExprContext(econtext); });
    run.rows = fetch_rows(js->server, js->user, run.keys, js->table_name, js->keep, run.stats);
    run.next_outer = 0;
    run.prepared = true;
}

// The next joined row in the scan slot (empty at the end); the executor
// then applies the plan's quals and projection.
TupleTableSlot* next_joined(ScanState* ss) {
    auto* js = reinterpret_cast<JoinState*>(ss);
    return guard([&] {
        JoinRun& run = *js->run;
        TupleTableSlot* scan = js->css.ss.ss_ScanTupleSlot;
        ExprContext* econtext = js->css.ss.ps.ps_ExprContext;
        if (!run.prepared) prepare(js);
        // Each outer row's work is in the per-tuple memory, which the
        // executor frees before asking for the next row.
        MemoryScope per_row(econtext->ecxt_per_tuple_memory);
        for (bool first = true;; first = false) {
            if (!first) pg_call([&] { ResetExprContext(econtext); });
            bool found = false;
            pg_call([&] {
                // A row read back from a spilled store is allocated here and
                // freed by the slot when the next one comes: not per-tuple memory.
                MemoryContext old = MemoryContextSwitchTo(js->keep);
                found = tuplestore_gettupleslot(js->outer_store, true, false, js->outer_slot);
                MemoryContextSwitchTo(old);
            });
            if (!found) {
                pg_call([&] { ExecClearTuple(scan); });
                return scan;
            }
            const std::int64_t row = run.row_of[run.next_outer++];
            place_outer(js, js->outer_slot, scan);
            bool matched = false;
            if (row >= 0) {
                const Datum result = run.rows->get(static_cast<std::size_t>(row));
                fill_row(js->result_desc, js->inner_columns, js->inner_count, result,
                         run.keys.rows()[static_cast<std::size_t>(row)],
                         scan->tts_values + js->outer_columns,
                         scan->tts_isnull + js->outer_columns);
                econtext->ecxt_scantuple = scan;
                pg_call([&] {
                    place_whole_row(js, scan);
                    matched = ExecQual(js->match_qual, econtext);
                });
            }
            switch (js->jointype) {
                case JOIN_INNER:
                case JOIN_SEMI:
                    if (matched) return scan;
                    break;
                case JOIN_LEFT:
                    if (!matched) place_outer(js, js->outer_slot, scan);
                    return scan;
                case JOIN_ANTI:
                    if (!matched) {
                        place_outer(js, js->outer_slot, scan);
                        return scan;
                    }
                    break;
                default:
                    break;
            }
        }
    });
}

// A concurrent update's recheck (EvalPlanQual): the outer side gives the
// rows to recheck, the foreign table the row the join gave (kept in the
// plan's output as its whole row); they are joined again, nothing looked up.
// A join without a kept row (inside a subquery the recheck runs anew) runs
// as usual, its lookups answered by the cache.
bool recheck_kept_row(JoinState* js, EPQState* epq);

bool recheck_joined(ScanState* ss, TupleTableSlot*) {
    auto* js = reinterpret_cast<JoinState*>(ss);
    EPQState* epq = ss->ps.state->es_epq_active;
    if (epq == nullptr || epq->relsubs_rowmark[js->inner_rti - 1] == nullptr)
        return !TupIsNull(next_joined(ss));
    return guard([&] {
        bool found = false;
        pg_call([&] { found = recheck_kept_row(js, epq); });
        return found;
    });
}

// Postgres code: the recheck of the row kept of the foreign table.
bool recheck_kept_row(JoinState* js, EPQState* epq) {
    TupleTableSlot* scan = js->css.ss.ss_ScanTupleSlot;
    ExprContext* econtext = js->css.ss.ps.ps_ExprContext;
    for (;;) {
        TupleTableSlot* outer = ExecProcNode(outer_state(js));
        if (TupIsNull(outer)) return false;
        const bool has_inner = EvalPlanQualFetchRowMark(epq, js->inner_rti, js->epq_slot);
        place_outer(js, outer, scan);
        bool matched = false;
        if (has_inner) {
            slot_getallattrs(js->epq_slot);
            int pos = js->outer_columns;
            for (int i = 0; i < js->row_desc->natts; ++i) {
                if (TupleDescAttr(js->row_desc, i)->attisdropped) continue;
                scan->tts_values[pos] = js->epq_slot->tts_values[i];
                scan->tts_isnull[pos] = js->epq_slot->tts_isnull[i];
                ++pos;
            }
            place_whole_row(js, scan);
            econtext->ecxt_scantuple = scan;
            matched = ExecQual(js->match_qual, econtext);
        }
        switch (js->jointype) {
            case JOIN_INNER:
            case JOIN_SEMI:
                if (matched) return true;
                break;
            case JOIN_LEFT:
                if (!matched) place_outer(js, outer, scan);
                return true;
            case JOIN_ANTI:
                if (!matched) {
                    place_outer(js, outer, scan);
                    return true;
                }
                break;
            default:
                return false;
        }
    }
}

TupleTableSlot* exec_join(CustomScanState* node) {
    return ExecScan(&node->ss, next_joined, recheck_joined);
}

void end_join(CustomScanState* node) {
    auto* js = reinterpret_cast<JoinState*>(node);
    guard([&] {
        JoinRun* run = js->run;
        js->run = nullptr;
        delete run;
        pg_call([&] {
            if (js->outer_store != nullptr) tuplestore_end(js->outer_store);
            js->outer_store = nullptr;
            ExecEndNode(outer_state(js));
        });
    });
}

void rescan_join(CustomScanState* node) {
    auto* js = reinterpret_cast<JoinState*>(node);
    guard([&] {
        pg_call([&] {
            PlanState* outer = outer_state(js);
            if (node->ss.ps.chgParam != nullptr) UpdateChangedParamSet(outer, node->ss.ps.chgParam);
            if (outer->chgParam == nullptr) ExecReScan(outer);
        });
        if (js->run == nullptr) return;
        FetchStats stats = js->run->stats;
        const std::int64_t outer_rows = js->run->outer_rows;
        delete js->run;
        js->run = nullptr;
        js->run = new JoinRun();
        js->run->stats = stats;
        js->run->outer_rows = outer_rows;
    });
}

void explain_join(CustomScanState* node, List* ancestors, ExplainState* es) {
    auto* js = reinterpret_cast<JoinState*>(node);
    guard([&] {
        pg_call([&] {
            CustomScan* plan = castNode(CustomScan, node->ss.ps.plan);
            List* context = set_deparse_context_plan(es->deparse_cxt, &plan->scan.plan, ancestors);
            const bool prefix = list_length(es->rtable) > 1 || es->verbose;
            StringInfoData keys;
            initStringInfo(&keys);
            appendStringInfo(
                &keys, "%s, %s",
                deparse_expression(static_cast<Node*>(list_nth(plan->custom_exprs, kStateExpr)),
                                   context, prefix, false),
                deparse_expression(static_cast<Node*>(list_nth(plan->custom_exprs, kValueExpr)),
                                   context, prefix, false));
            ExplainPropertyText("Join Keys", keys.data, es);
            List* match = static_cast<List*>(list_nth(plan->custom_exprs, kMatchQuals));
            if (match != NIL)
                ExplainPropertyText(
                    "Join Filter",
                    deparse_expression(reinterpret_cast<Node*>(make_ands_explicit(match)), context,
                                       prefix, false),
                    es);
            explain_lookup_kind(js->kind == core::KeyKind::License, js->kind == core::KeyKind::Name,
                                es);
        });
        if (es->analyze && js->run != nullptr) {
            pg_call(
                [&] { ExplainPropertyInteger("Outer Rows", nullptr, js->run->outer_rows, es); });
            explain_spent(js->run->stats, es);
            return;
        }
        const std::string keys =
            "about " + std::to_string(js->estimated_keys) + ", from the outer rows";
        pg_call(
            [&] { explain_expected(keys.c_str(), js->estimated_keys, -1, js->batch_size, es); });
    });
}

}  // namespace

void fdw_join_init() {
    path_methods.CustomName = kName;
    path_methods.PlanCustomPath = plan_join_path;
    scan_methods.CustomName = kName;
    scan_methods.CreateCustomScanState = create_join_state;
    exec_methods.CustomName = kName;
    exec_methods.BeginCustomScan = begin_join;
    exec_methods.ExecCustomScan = exec_join;
    exec_methods.EndCustomScan = end_join;
    exec_methods.ReScanCustomScan = rescan_join;
    exec_methods.ExplainCustomScan = explain_join;
    RegisterCustomScanMethods(&scan_methods);
    previous_hook = set_join_pathlist_hook;
    set_join_pathlist_hook = join_pathlist_hook;
}

}  // namespace cv::pg
