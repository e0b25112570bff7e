#include "pg/core_first.h"
#include "core/key_plan.h"

#include "pg/fdw_scan.h"

#include <memory>
#include <string>

#include "pg/fdw_explain.h"
#include "pg/fdw_fetch.h"
#include "pg/fdw_keys.h"
#include "pg/fdw_plan.h"
#include "pg/guard.h"
#include "pg/run_backstop.h"

extern "C" {
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "parser/parsetree.h"
#include "utils/rel.h"
}

namespace cv::pg {

namespace {

// The C++ side of a running scan.
struct ScanRun {
    core::KeyPlanner keys;
    std::unique_ptr<FetchedRows> rows;
    std::size_t next = 0;
    bool fetched = false;
    FetchStats stats;
};

// The scan's state in the executor's memory. `run` is deleted by
// EndForeignScan, or, when an error ends the query first, by a reset callback
// of the query's memory (after an abort fd.c has closed the temporary file).
struct FdwScanState {
    List* expr_states;      // the key expressions
    List* key_qual_states;  // the quals on key columns alone
    List* key_qual_masks;
    TupleTableSlot* key_slot;  // a key's columns, for those quals
    List* ways;
    int natts;
    int* columns;
    int figures[kFigCount];
    char* table_name;
    Oid server;
    Oid user;
    TupleDesc result_desc;
    MemoryContext keep;
    ScanRun* run;
    MemoryContextCallback backstop;
};

int* int_array(List* list, int* n) {
    *n = list_length(list);
    int* out = static_cast<int*>(palloc(sizeof(int) * (*n > 0 ? *n : 1)));
    int i = 0;
    ListCell* lc;
    foreach (lc, list) out[i++] = lfirst_int(lc);
    return out;
}

void fetch(ForeignScanState* node, FdwScanState* st) {
    ScanRun& run = *st->run;
    KeyValues values;
    eval_key_values(st->expr_states, node->ss.ps.ps_ExprContext, values);
    run.keys = core::KeyPlanner();
    KeyFilter filter(st->key_qual_states, st->key_qual_masks, st->key_slot,
                     node->ss.ps.ps_ExprContext, st->columns, st->natts);
    add_keys(st->ways, values, run.keys, &filter);
    run.rows.reset();
    run.rows = fetch_rows(st->server, st->user, run.keys, st->table_name, st->keep, run.stats);
    run.next = 0;
    run.fetched = true;
}

}  // namespace

void fdw_begin_scan(ForeignScanState* node, int eflags) {
    guard([&] {
        pg_call([&] {
            // Nothing to do for EXPLAIN without ANALYZE: it reads the plan.
            if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;
            ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
            EState* estate = node->ss.ps.state;
            auto* st = static_cast<FdwScanState*>(
                MemoryContextAllocZero(estate->es_query_cxt, sizeof(FdwScanState)));
            MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
            List* states = ExecInitExprList(plan->fdw_exprs, &node->ss.ps);
            st->key_qual_masks = static_cast<List*>(list_nth(plan->fdw_private, kPrivKeyQualMasks));
            const int key_exprs = list_length(states) - list_length(st->key_qual_masks);
            st->expr_states = list_copy_head(states, key_exprs);
            st->key_qual_states = list_copy_tail(states, key_exprs);
            st->key_slot = ExecInitExtraTupleSlot(
                estate, RelationGetDescr(node->ss.ss_currentRelation), &TTSOpsVirtual);
            st->ways = static_cast<List*>(list_nth(plan->fdw_private, kPrivWays));
            st->columns = int_array(static_cast<List*>(list_nth(plan->fdw_private, kPrivColumns)),
                                    &st->natts);
            int n = 0;
            int* figures =
                int_array(static_cast<List*>(list_nth(plan->fdw_private, kPrivFigures)), &n);
            for (int i = 0; i < kFigCount && i < n; ++i) st->figures[i] = figures[i];
            st->table_name = strVal(list_nth(plan->fdw_private, kPrivTableName));
            st->server = plan->fs_server;
            const Oid check_as = exec_rt_fetch(plan->scan.scanrelid, estate)->checkAsUser;
            st->user = OidIsValid(check_as) ? check_as : InvalidOid;
            st->keep = estate->es_query_cxt;
            st->backstop.func = drop_run_on_reset<FdwScanState>;
            st->backstop.arg = st;
            MemoryContextRegisterResetCallback(estate->es_query_cxt, &st->backstop);
            MemoryContextSwitchTo(old);
            node->fdw_state = st;
        });
        auto* st = static_cast<FdwScanState*>(node->fdw_state);
        if (st == nullptr) return;
        MemoryContext old = MemoryContextSwitchTo(st->keep);
        st->result_desc = result_descriptor();
        MemoryContextSwitchTo(old);
        st->run = new ScanRun();
    });
}

TupleTableSlot* fdw_iterate(ForeignScanState* node) {
    return guard([&] {
        auto* st = static_cast<FdwScanState*>(node->fdw_state);
        TupleTableSlot* slot = node->ss.ss_ScanTupleSlot;
        ScanRun& run = *st->run;
        if (!run.fetched) fetch(node, st);
        pg_call([&] { ExecClearTuple(slot); });
        if (run.next >= run.rows->size()) return slot;
        const std::size_t i = run.next++;
        const core::KeyRow& key = run.keys.rows()[i];
        const Datum result = run.rows->get(i);
        fill_row(st->result_desc, st->columns, st->natts, result, key, slot->tts_values,
                 slot->tts_isnull);
        pg_call([&] { ExecStoreVirtualTuple(slot); });
        return slot;
    });
}

void fdw_rescan(ForeignScanState* node) {
    guard([&] {
        auto* st = static_cast<FdwScanState*>(node->fdw_state);
        if (st == nullptr || st->run == nullptr) return;
        // The same parameters: the same rows again, without looking anything up.
        if (node->ss.ps.chgParam == nullptr) {
            st->run->next = 0;
            return;
        }
        st->run->rows.reset();
        st->run->fetched = false;
    });
}

void fdw_end_scan(ForeignScanState* node) {
    guard([&] {
        auto* st = static_cast<FdwScanState*>(node->fdw_state);
        if (st == nullptr) return;
        ScanRun* run = st->run;
        st->run = nullptr;
        delete run;
    });
}

void fdw_explain_scan(ForeignScanState* node, ExplainState* es) {
    guard([&] {
        pg_call([&] {
            ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
            List* ways = static_cast<List*>(list_nth(plan->fdw_private, kPrivWays));
            bool by_license = false, by_name = false;
            ListCell* lc;
            foreach (lc, ways) {
                const auto kind = static_cast<core::KeyKind>(
                    list_nth_int(static_cast<List*>(lfirst(lc)), kWayKind));
                (kind == core::KeyKind::Name ? by_name : by_license) = true;
            }
            explain_lookup_kind(by_license, by_name, es);
        });
        auto* st = static_cast<FdwScanState*>(node->fdw_state);
        if (es->analyze && st != nullptr && st->run != nullptr) {
            explain_spent(st->run->stats, es);
            return;
        }
        int n = 0;
        int* f = nullptr;
        pg_call([&] {
            ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
            f = int_array(static_cast<List*>(list_nth(plan->fdw_private, kPrivFigures)), &n);
        });
        std::string keys = std::to_string(f[kFigKeyRows]);
        if (f[kFigPerRescan])
            keys += " per loop";
        else if (!f[kFigKeysExact])
            keys = "about " + keys + ", from parameters";
        else if (!f[kFigKeysConstant])
            keys += ", from parameters";
        pg_call([&] {
            explain_expected(keys.c_str(), f[kFigLookups], f[kFigExpectedHits], f[kFigBatchSize],
                             es);
        });
    });
}

}  // namespace cv::pg
