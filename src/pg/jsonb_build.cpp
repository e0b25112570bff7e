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

using nlohmann::json;

// Pushes j into the parse state; Postgres calls only, no C++ objects with
// destructors alive across them (the caller wraps this in pg_call).
// Returns what the last push returned: the finished value once the outermost
// container closes.
JsonbValue* push(JsonbParseState** state, const json& j, JsonbIteratorToken as) {
    JsonbValue v;
    switch (j.type()) {
        case json::value_t::object:
            pushJsonbValue(state, WJB_BEGIN_OBJECT, nullptr);
            for (auto it = j.begin(); it != j.end(); ++it) {
                const std::string& k = it.key();
                v.type = jbvString;
                v.val.string.val = const_cast<char*>(k.data());
                v.val.string.len = static_cast<int>(k.size());
                pushJsonbValue(state, WJB_KEY, &v);
                push(state, it.value(), WJB_VALUE);
            }
            return pushJsonbValue(state, WJB_END_OBJECT, nullptr);
        case json::value_t::array:
            pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
            for (const auto& e : j) push(state, e, WJB_ELEM);
            return pushJsonbValue(state, WJB_END_ARRAY, nullptr);
        case json::value_t::string: {
            const std::string& s = j.get_ref<const std::string&>();
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(s.data());
            v.val.string.len = static_cast<int>(s.size());
            break;
        }
        case json::value_t::boolean:
            v.type = jbvBool;
            v.val.boolean = j.get<bool>();
            break;
        case json::value_t::number_integer:
            v.type = jbvNumeric;
            v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(j.get<std::int64_t>())));
            break;
        case json::value_t::number_unsigned: {
            char buf[32];
            snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(j.get<std::uint64_t>()));
            v.type = jbvNumeric;
            v.val.numeric = DatumGetNumeric(
                DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
            break;
        }
        case json::value_t::number_float: {
            const double d = j.get<double>();
            char buf[64];
            snprintf(buf, sizeof buf, "%.17g", d);
            v.type = jbvNumeric;
            v.val.numeric = DatumGetNumeric(
                DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
            break;
        }
        default:
            v.type = jbvNull;
            break;
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
        return PointerGetDatum(JsonbValueToJsonb(push(&state, j, WJB_DONE)));
    });
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
