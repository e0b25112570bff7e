#include "pg/core_first.h"

#include "pg/jsonb_build.h"

#include "pg/guard.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

namespace cv::pg {

namespace {

using core::JsonTape;

Numeric numeric_from_text(const char* text) {
    return DatumGetNumeric(
        DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

// Pushes j (a core::DomView or TapeView) into the parse state; Postgres
// calls only, no C++ objects with destructors alive across them (the caller
// wraps this in pg_call). Returns what the last push returned: the finished
// value once the outermost container closes.
template <typename View>
JsonbValue* push(JsonbParseState** state, const View& j, JsonbIteratorToken as) {
    JsonbValue v;
    if (j.is_object()) {
        pushJsonbValue(state, WJB_BEGIN_OBJECT, nullptr);
        j.for_each_member([&](std::string_view k, const View& value) {
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(k.data());
            v.val.string.len = static_cast<int>(k.size());
            pushJsonbValue(state, WJB_KEY, &v);
            push(state, value, WJB_VALUE);
        });
        return pushJsonbValue(state, WJB_END_OBJECT, nullptr);
    }
    if (j.is_array()) {
        pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
        j.for_each_element([&](const View& e) { push(state, e, WJB_ELEM); });
        return pushJsonbValue(state, WJB_END_ARRAY, nullptr);
    }
    if (j.is_string()) {
        const std::string_view s = j.string();
        v.type = jbvString;
        v.val.string.val = const_cast<char*>(s.data());
        v.val.string.len = static_cast<int>(s.size());
    } else if (j.is_boolean()) {
        v.type = jbvBool;
        v.val.boolean = j.boolean();
    } else if (j.is_number_unsigned()) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(j.unsigned_integer()));
        v.type = jbvNumeric;
        v.val.numeric = numeric_from_text(buf);
    } else if (j.is_number_integer()) {
        v.type = jbvNumeric;
        v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(j.integer())));
    } else if (j.is_number_float()) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", j.floating());
        v.type = jbvNumeric;
        v.val.numeric = numeric_from_text(buf);
    } else {
        v.type = jbvNull;
    }
    if (as == WJB_VALUE || as == WJB_ELEM) return pushJsonbValue(state, as, &v);
    // A scalar document: jsonb keeps it as a one-element raw array.
    pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
    (*state)->contVal.val.array.rawScalar = true;
    pushJsonbValue(state, WJB_ELEM, &v);
    return pushJsonbValue(state, WJB_END_ARRAY, nullptr);
}

}  // namespace

Datum json_to_jsonb(const nlohmann::json& j) {
    return pg_value([&] {
        JsonbParseState* state = nullptr;
        return PointerGetDatum(JsonbValueToJsonb(push(&state, core::DomView(j), WJB_DONE)));
    });
}

Datum tape_to_jsonb(const core::JsonTape& tape, std::uint32_t node) {
    return pg_value([&] {
        JsonbParseState* state = nullptr;
        return PointerGetDatum(JsonbValueToJsonb(push(&state, core::TapeView(tape, node), WJB_DONE)));
    });
}

Datum raw_to_jsonb(const core::Observation& o) {
    if (o.raw_tape)  // a JSON null is no record, as on the general path
        return o.raw_tape->kind(o.raw_node) == JsonTape::Kind::Null ? 0 : tape_to_jsonb(*o.raw_tape, o.raw_node);
    return o.raw.is_null() ? 0 : json_to_jsonb(o.raw);
}

Datum jsonb_member(Datum object, const char* key, JsonKind wanted) {
    return pg_value([&]() -> Datum {
        Jsonb* jb = DatumGetJsonbP(object);
        if (!JB_ROOT_IS_OBJECT(jb)) return 0;
        JsonbValue* v = getKeyJsonValueFromContainer(&jb->root, key, static_cast<int>(strlen(key)), nullptr);
        if (v == nullptr) return 0;
        if (wanted != JsonKind::Any) {
            if (v->type != jbvBinary) return 0;
            const bool is_array = JsonContainerIsArray(v->val.binary.data) && !JsonContainerIsScalar(v->val.binary.data);
            const bool is_object = JsonContainerIsObject(v->val.binary.data);
            if ((wanted == JsonKind::Array && !is_array) || (wanted == JsonKind::Object && !is_object))
                return 0;
        }
        return PointerGetDatum(JsonbValueToJsonb(v));
    });
}

}  // namespace cv::pg
