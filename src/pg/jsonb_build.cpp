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
using core::JsonTape;

enum class Scalar { Null, Bool, Signed, Unsigned, Float, String };

// The JSON library's tree and a tape, read alike by push().
struct DomSource {
    using Node = const json*;
    static bool is_object(Node j) { return j->is_object(); }
    static bool is_array(Node j) { return j->is_array(); }
    template <typename F>
    static void members(Node j, F&& f) {
        for (auto it = j->begin(); it != j->end(); ++it) f(std::string_view(it.key()), &it.value());
    }
    template <typename F>
    static void elements(Node j, F&& f) {
        for (const auto& e : *j) f(&e);
    }
    static Scalar scalar(Node j) {
        switch (j->type()) {
            case json::value_t::string: return Scalar::String;
            case json::value_t::boolean: return Scalar::Bool;
            case json::value_t::number_integer: return Scalar::Signed;
            case json::value_t::number_unsigned: return Scalar::Unsigned;
            case json::value_t::number_float: return Scalar::Float;
            default: return Scalar::Null;
        }
    }
    static std::string_view string(Node j) { return j->get_ref<const std::string&>(); }
    static bool boolean(Node j) { return j->get<bool>(); }
    static std::int64_t signed_value(Node j) { return j->get<std::int64_t>(); }
    static std::uint64_t unsigned_value(Node j) { return j->get<std::uint64_t>(); }
    static double float_value(Node j) { return j->get<double>(); }
};

struct TapeSource {
    const JsonTape& t;
    using Node = std::uint32_t;
    bool is_object(Node n) const { return t.kind(n) == JsonTape::Kind::Object; }
    bool is_array(Node n) const { return t.kind(n) == JsonTape::Kind::Array; }
    template <typename F>
    void members(Node n, F&& f) const { t.for_each_member(n, f); }
    template <typename F>
    void elements(Node n, F&& f) const { t.for_each_element(n, f); }
    Scalar scalar(Node n) const {
        switch (t.kind(n)) {
            case JsonTape::Kind::String: return Scalar::String;
            case JsonTape::Kind::True:
            case JsonTape::Kind::False: return Scalar::Bool;
            case JsonTape::Kind::Integer: return Scalar::Signed;
            case JsonTape::Kind::Unsigned: return Scalar::Unsigned;
            case JsonTape::Kind::Float: return Scalar::Float;
            default: return Scalar::Null;
        }
    }
    std::string_view string(Node n) const { return t.string(n); }
    bool boolean(Node n) const { return t.kind(n) == JsonTape::Kind::True; }
    std::int64_t signed_value(Node n) const { return t.integer(n); }
    std::uint64_t unsigned_value(Node n) const { return t.unsigned_integer(n); }
    double float_value(Node n) const { return t.floating(n); }
};

Numeric numeric_from_text(const char* text) {
    return DatumGetNumeric(
        DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

// Pushes node n of src into the parse state; Postgres calls only, no C++
// objects with destructors alive across them (the caller wraps this in
// pg_call). Returns what the last push returned: the finished value once the
// outermost container closes.
template <typename Src>
JsonbValue* push(JsonbParseState** state, const Src& src, typename Src::Node n, JsonbIteratorToken as) {
    JsonbValue v;
    if (src.is_object(n)) {
        pushJsonbValue(state, WJB_BEGIN_OBJECT, nullptr);
        src.members(n, [&](std::string_view k, typename Src::Node value) {
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(k.data());
            v.val.string.len = static_cast<int>(k.size());
            pushJsonbValue(state, WJB_KEY, &v);
            push(state, src, value, WJB_VALUE);
        });
        return pushJsonbValue(state, WJB_END_OBJECT, nullptr);
    }
    if (src.is_array(n)) {
        pushJsonbValue(state, WJB_BEGIN_ARRAY, nullptr);
        src.elements(n, [&](typename Src::Node e) { push(state, src, e, WJB_ELEM); });
        return pushJsonbValue(state, WJB_END_ARRAY, nullptr);
    }
    switch (src.scalar(n)) {
        case Scalar::String: {
            const std::string_view s = src.string(n);
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(s.data());
            v.val.string.len = static_cast<int>(s.size());
            break;
        }
        case Scalar::Bool:
            v.type = jbvBool;
            v.val.boolean = src.boolean(n);
            break;
        case Scalar::Signed:
            v.type = jbvNumeric;
            v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(src.signed_value(n))));
            break;
        case Scalar::Unsigned: {
            char buf[32];
            snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(src.unsigned_value(n)));
            v.type = jbvNumeric;
            v.val.numeric = numeric_from_text(buf);
            break;
        }
        case Scalar::Float: {
            char buf[64];
            snprintf(buf, sizeof buf, "%.17g", src.float_value(n));
            v.type = jbvNumeric;
            v.val.numeric = numeric_from_text(buf);
            break;
        }
        case Scalar::Null:
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
        return PointerGetDatum(JsonbValueToJsonb(push(&state, DomSource{}, &j, WJB_DONE)));
    });
}

Datum tape_to_jsonb(const core::JsonTape& tape, std::uint32_t node) {
    return pg_value([&] {
        JsonbParseState* state = nullptr;
        return PointerGetDatum(JsonbValueToJsonb(push(&state, TapeSource{tape}, node, WJB_DONE)));
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
