#include "pg/core_first.h"
#include "core/key_plan.h"

#include "pg/fdw_keys.h"

#include "pg/guard.h"
#include "pg/roster.h"

extern "C" {
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace cv::pg {

namespace {

// The slots of a way, one per key column.
enum Slot { kState, kLicense, kLookupName, kBusinessName, kSlots };

int slot_of(const KeyAttributes& keys, AttrNumber attno) {
    if (attno == keys.state) return kState;
    if (attno == keys.license_number) return kLicense;
    if (attno == keys.lookup_name) return kLookupName;
    if (attno == keys.business_name) return kBusinessName;
    return -1;
}

bool is_key_var(Node* node, Index relid, const KeyAttributes& keys, AttrNumber* attno) {
    while (node != nullptr && IsA(node, RelabelType))
        node = reinterpret_cast<Node*>(castNode(RelabelType, node)->arg);
    if (node == nullptr || !IsA(node, Var)) return false;
    Var* var = castNode(Var, node);
    if (var->varno != static_cast<int>(relid) || var->varlevelsup != 0 || var->varattno <= 0)
        return false;
    if (slot_of(keys, var->varattno) < 0) return false;
    *attno = var->varattno;
    return true;
}

bool usable_value(PlannerInfo* root, Expr* value, Oid type, Relids outer) {
    if (exprType(reinterpret_cast<Node*>(value)) != type) return false;
    if (contain_volatile_functions(reinterpret_cast<Node*>(value))) return false;
    return bms_is_subset(pull_varnos(root, reinterpret_cast<Node*>(value)), outer);
}

bool deterministic(Oid collation) {
    return !OidIsValid(collation) || get_collation_isdeterministic(collation);
}

// A way under construction: the expression of each slot (state, license, name).
struct Way {
    Expr* expr[kSlots] = {};
    bool array[kSlots] = {};
    RestrictInfo* from[kSlots] = {};

    bool empty() const {
        return !expr[kState] && !expr[kLicense] && !expr[kLookupName] && !expr[kBusinessName];
    }
    // What the way looks up by: rows found by name carry lookup_name, so a
    // lookup_name equality makes it a name lookup; else a license number;
    // else business_name, a name lookup whose rows are those with exactly
    // that business name. -1: none.
    int value_slot() const {
        if (expr[kLookupName]) return kLookupName;
        if (expr[kLicense]) return kLicense;
        if (expr[kBusinessName]) return kBusinessName;
        return -1;
    }
};

void take(Way& way, int slot, const KeyEquality& eq, RestrictInfo* rinfo) {
    if (way.expr[slot] != nullptr)
        return;  // the first one found; the others are checked on the rows
    way.expr[slot] = eq.value;
    way.array[slot] = eq.is_array;
    way.from[slot] = rinfo;
}

// The equalities of one arm of an OR: a single clause or an AND of them.
void collect_arm(PlannerInfo* root, Expr* arm, Index relid, Relids outer, const KeyAttributes& keys,
                 Way& way) {
    if (is_andclause(arm)) {
        ListCell* lc;
        foreach (lc, castNode(BoolExpr, arm)->args)
            collect_arm(root, static_cast<Expr*>(lfirst(lc)), relid, outer, keys, way);
        return;
    }
    if (IsA(arm, RestrictInfo)) arm = castNode(RestrictInfo, arm)->clause;
    KeyEquality eq;
    if (match_key_equality(root, arm, relid, outer, keys, &eq))
        take(way, slot_of(keys, eq.attno), eq, nullptr);
}

// Completes a way from the top-level equalities; false when it stays open.
bool complete(Way& way, const Way& top) {
    for (int s = 0; s < kSlots; ++s)
        if (way.expr[s] == nullptr && top.expr[s] != nullptr) {
            way.expr[s] = top.expr[s];
            way.array[s] = top.array[s];
            way.from[s] = top.from[s];
        }
    return way.expr[kState] != nullptr && way.value_slot() >= 0;
}

int expr_index(KeySpec* out, Expr* expr) {
    int i = 0;
    ListCell* lc;
    foreach (lc, out->exprs) {
        if (equal(lfirst(lc), expr)) return i;
        ++i;
    }
    out->exprs = lappend(out->exprs, expr);
    return i;
}

void emit(KeySpec* out, const Way& way) {
    const int value_slot = way.value_slot();
    List* w = NIL;
    w = lappend_int(w, expr_index(out, way.expr[kState]));
    w = lappend_int(w, way.array[kState] ? 1 : 0);
    w = lappend_int(w, expr_index(out, way.expr[value_slot]));
    w = lappend_int(w, way.array[value_slot] ? 1 : 0);
    w = lappend_int(
        w, static_cast<int>(value_slot == kLicense ? core::KeyKind::License : core::KeyKind::Name));
    w = lappend_int(w, 1 << value_slot);
    out->ways = lappend(out->ways, w);
    for (int s : {static_cast<int>(kState), value_slot})
        if (way.from[s] != nullptr)
            out->key_clauses = list_append_unique_ptr(out->key_clauses, way.from[s]);
}

// C strings of a text or text[] datum, in the database encoding.
void text_values(Datum d, bool is_array, List** out) {
    if (!is_array) {
        *out = lappend(*out, text_to_cstring(DatumGetTextPP(d)));
        return;
    }
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int n = 0;
    deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    for (int i = 0; i < n; ++i)
        if (!nulls[i]) *out = lappend(*out, text_to_cstring(DatumGetTextPP(elems[i])));
}

void to_strings(List* cstrings, std::vector<std::string>& out) {
    ListCell* lc;
    foreach (lc, cstrings) out.push_back(to_utf8(static_cast<const char*>(lfirst(lc))));
}

// What key_columns_read looks for.
struct ReadColumns {
    Index relid;
    const KeyAttributes* keys;
    int mask = 0;
    bool unusable = false;
};

bool read_columns_walker(Node* node, void* arg);
using Walker = bool (*)();
Walker read_columns() {
    return reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(read_columns_walker));
}

bool read_columns_walker(Node* node, void* arg) {
    auto* rc = static_cast<ReadColumns*>(arg);
    if (node == nullptr) return false;
    if (IsA(node, Var)) {
        Var* var = castNode(Var, node);
        if (var->varlevelsup != 0) {
            rc->unusable = true;
        } else if (var->varno == static_cast<int>(rc->relid)) {
            const int slot = var->varattno > 0 ? slot_of(*rc->keys, var->varattno) : -1;
            if (slot < 0)
                rc->unusable = true;
            else
                rc->mask |= 1 << slot;
        }
        return rc->unusable;
    }
    if (IsA(node, PlaceHolderVar) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan) ||
        IsA(node, SubLink) || IsA(node, Aggref) || IsA(node, WindowFunc)) {
        rc->unusable = true;
        return true;
    }
    return expression_tree_walker(node, read_columns(), arg);
}

}  // namespace

int key_columns_read(Expr* clause, Index relid, const KeyAttributes& keys) {
    if (contain_volatile_functions(reinterpret_cast<Node*>(clause))) return -1;
    ReadColumns rc{relid, &keys};
    read_columns_walker(reinterpret_cast<Node*>(clause), &rc);
    return rc.unusable ? -1 : rc.mask;
}

int key_columns_known(int column) {
    return kStateBit | column | kLookupNameBit;
}

List* key_quals(List* clauses, List* skip, Index relid, const KeyAttributes& keys, List** masks) {
    List* out = NIL;
    ListCell* lc;
    foreach (lc, clauses) {
        RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
        if (rinfo->pseudoconstant || list_member_ptr(skip, rinfo)) continue;
        const int mask = key_columns_read(rinfo->clause, relid, keys);
        if (mask <= 0) continue;
        out = lappend(out, rinfo->clause);
        *masks = lappend_int(*masks, mask);
    }
    return out;
}

KeyFilter::KeyFilter(List* quals, List* masks, TupleTableSlot* slot, ExprContext* econtext,
                     const int* columns, int natts)
    : quals_(quals), masks_(masks), slot_(slot), econtext_(econtext) {
    for (int i = 0; i < natts; ++i) {
        const auto attno = static_cast<AttrNumber>(i + 1);
        if (columns[i] == kResState) state_ = attno;
        if (columns[i] == kResLicenseNumber) license_ = attno;
        if (columns[i] == kLookupNameColumn) lookup_name_ = attno;
        if (columns[i] == kResBusinessName) business_name_ = attno;
    }
}

bool KeyFilter::admits(int column, const std::string& state, const std::string& value) {
    if (quals_ == NIL) return true;
    const int known = key_columns_known(column);
    bool admitted = true;
    pg_call([&] {
        ResetExprContext(econtext_);
        MemoryContext old = MemoryContextSwitchTo(econtext_->ecxt_per_tuple_memory);
        ExecClearTuple(slot_);
        for (int i = 0; i < slot_->tts_tupleDescriptor->natts; ++i) slot_->tts_isnull[i] = true;
        auto set = [&](AttrNumber attno, const std::string& s) {
            if (attno == 0) return;
            slot_->tts_values[attno - 1] =
                PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
            slot_->tts_isnull[attno - 1] = false;
        };
        set(state_, state);
        if (column == kLicenseBit) set(license_, value);
        if (column == kLookupNameBit || column == kBusinessNameBit) set(lookup_name_, value);
        if (column == kBusinessNameBit) set(business_name_, value);
        ExecStoreVirtualTuple(slot_);
        econtext_->ecxt_scantuple = slot_;
        ListCell* q;
        ListCell* m;
        forboth (q, quals_, m, masks_) {
            if ((lfirst_int(m) & ~known) != 0) continue;
            bool isnull = false;
            const Datum d = ExecEvalExpr(static_cast<ExprState*>(lfirst(q)), econtext_, &isnull);
            if (isnull || !DatumGetBool(d)) {
                admitted = false;
                break;
            }
        }
        MemoryContextSwitchTo(old);
    });
    return admitted;
}

bool match_key_equality(PlannerInfo* root, Expr* clause, Index relid, Relids outer,
                        const KeyAttributes& keys, KeyEquality* out) {
    if (IsA(clause, OpExpr)) {
        OpExpr* op = castNode(OpExpr, clause);
        if (op->opno != TextEqualOperator || list_length(op->args) != 2 ||
            !deterministic(op->inputcollid))
            return false;
        Node* left = static_cast<Node*>(linitial(op->args));
        Node* right = static_cast<Node*>(lsecond(op->args));
        AttrNumber attno = 0;
        Expr* value = nullptr;
        if (is_key_var(left, relid, keys, &attno))
            value = reinterpret_cast<Expr*>(right);
        else if (is_key_var(right, relid, keys, &attno))
            value = reinterpret_cast<Expr*>(left);
        else
            return false;
        if (!usable_value(root, value, TEXTOID, outer)) return false;
        *out = KeyEquality{attno, value, false};
        return true;
    }
    if (IsA(clause, ScalarArrayOpExpr)) {
        ScalarArrayOpExpr* saop = castNode(ScalarArrayOpExpr, clause);
        if (!saop->useOr || saop->opno != TextEqualOperator || list_length(saop->args) != 2 ||
            !deterministic(saop->inputcollid))
            return false;
        AttrNumber attno = 0;
        if (!is_key_var(static_cast<Node*>(linitial(saop->args)), relid, keys, &attno))
            return false;
        Expr* value = static_cast<Expr*>(lsecond(saop->args));
        if (!usable_value(root, value, TEXTARRAYOID, outer)) return false;
        *out = KeyEquality{attno, value, true};
        return true;
    }
    return false;
}

bool find_keys(PlannerInfo* root, List* clauses, Index relid, Relids outer,
               const KeyAttributes& keys, KeySpec* out) {
    *out = KeySpec{};
    Way top;
    List* ors = NIL;
    ListCell* lc;
    foreach (lc, clauses) {
        RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
        if (rinfo->pseudoconstant) continue;
        if (is_orclause(rinfo->clause)) {
            ors = lappend(ors, rinfo);
            continue;
        }
        KeyEquality eq;
        if (match_key_equality(root, rinfo->clause, relid, outer, keys, &eq))
            take(top, slot_of(keys, eq.attno), eq, rinfo);
    }
    Way whole = top;
    if (complete(whole, top)) {
        emit(out, whole);
        return true;
    }
    // An OR whose every arm names its keys (with the top-level ones for what an arm leaves out).
    foreach (lc, ors) {
        RestrictInfo* rinfo = lfirst_node(RestrictInfo, lc);
        List* arms = castNode(BoolExpr, rinfo->clause)->args;
        KeySpec spec;
        bool usable = true;
        ListCell* arm;
        foreach (arm, arms) {
            Way way;
            collect_arm(root, static_cast<Expr*>(lfirst(arm)), relid, outer, keys, way);
            if (way.empty()) usable = false;
            if (!usable || !complete(way, top)) {
                usable = false;
                break;
            }
            emit(&spec, way);
        }
        if (!usable) continue;
        spec.key_clauses = list_append_unique_ptr(spec.key_clauses, rinfo);
        *out = spec;
        return true;
    }
    return false;
}

KeyCount count_keys(const KeySpec& spec) {
    KeyCount count;
    auto values = [&](int index, bool is_array) -> double {
        Node* expr = static_cast<Node*>(list_nth(spec.exprs, index));
        if (!IsA(expr, Const)) {
            count.constant = false;
            if (is_array) count.exact = false;
            return is_array ? 10 : 1;
        }
        Const* c = castNode(Const, expr);
        if (c->constisnull) return 0;
        if (!is_array) return 1;
        ArrayType* a = DatumGetArrayTypeP(c->constvalue);
        return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
    };
    ListCell* lc;
    foreach (lc, spec.ways) {
        List* w = static_cast<List*>(lfirst(lc));
        count.keys += values(list_nth_int(w, kWayState), list_nth_int(w, kWayStateArray) != 0) *
                      values(list_nth_int(w, kWayValue), list_nth_int(w, kWayValueArray) != 0);
    }
    return count;
}

bool constant_key_values(List* exprs, KeyValues& out) {
    out.clear();
    ListCell* lc;
    foreach (lc, exprs)
        if (!IsA(lfirst(lc), Const)) return false;
    foreach (lc, exprs) {
        Const* c = lfirst_node(Const, lc);
        List* strings = NIL;
        pg_call([&] {
            if (!c->constisnull) text_values(c->constvalue, c->consttype == TEXTARRAYOID, &strings);
        });
        out.emplace_back();
        to_strings(strings, out.back());
    }
    return true;
}

void eval_key_values(List* expr_states, ExprContext* econtext, KeyValues& out) {
    out.clear();
    ListCell* lc;
    foreach (lc, expr_states) {
        ExprState* state = static_cast<ExprState*>(lfirst(lc));
        List* strings = NIL;
        pg_call([&] {
            MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
            bool isnull = false;
            const Datum d = ExecEvalExpr(state, econtext, &isnull);
            if (!isnull)
                text_values(d, exprType(reinterpret_cast<Node*>(state->expr)) == TEXTARRAYOID,
                            &strings);
            MemoryContextSwitchTo(old);
        });
        out.emplace_back();
        to_strings(strings, out.back());
    }
}

void add_keys(List* ways, const KeyValues& values, core::KeyPlanner& planner, KeyFilter* filter) {
    ListCell* lc;
    foreach (lc, ways) {
        List* w = static_cast<List*>(lfirst(lc));
        const auto kind = static_cast<core::KeyKind>(list_nth_int(w, kWayKind));
        const int column = list_nth_int(w, kWayColumn);
        const auto& states = values.at(list_nth_int(w, kWayState));
        const auto& keys = values.at(list_nth_int(w, kWayValue));
        for (const auto& state : states) {
            throw_if_interrupted();
            std::size_t n = 0;
            for (const auto& key : keys) {
                if (filter != nullptr && (++n & 1023) == 0) throw_if_interrupted();
                if (filter == nullptr || filter->admits(column, state, key))
                    planner.add(state, key, kind, column == kBusinessNameBit);
            }
        }
    }
}

}  // namespace cv::pg
