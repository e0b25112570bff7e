// One read-only interface over a JSON value held two ways: in the JSON
// library's tree (DomView) or in a JsonTape (TapeView). What reads API
// answers is written once against it (a template) and serves both.
#pragma once
#include "core/no_postgres.h"

#include "core/json_tape.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cv::core {

class DomView {
public:
    explicit DomView(const nlohmann::json& j) : j_(&j) {}

    bool is_object() const { return j_->is_object(); }
    bool is_array() const { return j_->is_array(); }
    bool is_string() const { return j_->is_string(); }
    bool is_null() const { return j_->is_null(); }
    bool is_boolean() const { return j_->is_boolean(); }
    bool is_number() const { return j_->is_number(); }
    bool is_number_integer() const { return j_->is_number_integer(); }  // signed or unsigned
    bool is_number_unsigned() const { return j_->is_number_unsigned(); }
    bool is_number_float() const { return j_->is_number_float(); }

    // An object's member; nullopt when this is not an object or has none.
    std::optional<DomView> find(const char* key) const {
        if (!j_->is_object()) return std::nullopt;
        auto it = j_->find(key);
        if (it == j_->end()) return std::nullopt;
        return DomView(*it);
    }
    std::string_view string() const { return j_->get_ref<const std::string&>(); }
    std::int64_t integer() const { return j_->get<std::int64_t>(); }
    std::uint64_t unsigned_integer() const { return j_->get<std::uint64_t>(); }
    double floating() const { return j_->get<double>(); }
    bool boolean() const { return j_->get<bool>(); }
    template <typename F>
    void for_each_element(F&& f) const {
        for (const auto& e : *j_) f(DomView(e));
    }
    // f(key, value) for each member of an object.
    template <typename F>
    void for_each_member(F&& f) const {
        for (auto it = j_->begin(); it != j_->end(); ++it) f(std::string_view(it.key()), DomView(it.value()));
    }
    nlohmann::json to_json() const { return *j_; }
    const nlohmann::json& json() const { return *j_; }

private:
    const nlohmann::json* j_;
};

class TapeView {
public:
    TapeView(const JsonTape& tape, std::uint32_t node) : t_(&tape), n_(node) {}
    using Kind = JsonTape::Kind;

    bool is_object() const { return kind() == Kind::Object; }
    bool is_array() const { return kind() == Kind::Array; }
    bool is_string() const { return kind() == Kind::String; }
    bool is_null() const { return kind() == Kind::Null; }
    bool is_boolean() const { return kind() == Kind::True || kind() == Kind::False; }
    bool is_number() const { return is_number_integer() || is_number_float(); }
    bool is_number_integer() const { return kind() == Kind::Integer || kind() == Kind::Unsigned; }
    bool is_number_unsigned() const { return kind() == Kind::Unsigned; }
    bool is_number_float() const { return kind() == Kind::Float; }

    std::optional<TapeView> find(const char* key) const {
        const std::uint32_t v = t_->find(n_, key);
        if (v == JsonTape::kNone) return std::nullopt;
        return TapeView(*t_, v);
    }
    std::string_view string() const { return t_->string(n_); }
    // An integer's value (an unsigned one cast, as the JSON library does).
    std::int64_t integer() const { return t_->integer(n_); }
    std::uint64_t unsigned_integer() const { return t_->unsigned_integer(n_); }
    double floating() const {
        switch (kind()) {
            case Kind::Integer: return static_cast<double>(t_->integer(n_));
            case Kind::Unsigned: return static_cast<double>(t_->unsigned_integer(n_));
            default: return t_->floating(n_);
        }
    }
    bool boolean() const { return kind() == Kind::True; }
    template <typename F>
    void for_each_element(F&& f) const {
        t_->for_each_element(n_, [&](std::uint32_t e) { f(TapeView(*t_, e)); });
    }
    template <typename F>
    void for_each_member(F&& f) const {
        t_->for_each_member(n_, [&](std::string_view k, std::uint32_t v) { f(k, TapeView(*t_, v)); });
    }
    nlohmann::json to_json() const { return t_->to_json(n_); }

    const JsonTape& tape() const { return *t_; }
    std::uint32_t node() const { return n_; }

private:
    Kind kind() const { return t_->kind(n_); }
    const JsonTape* t_;
    std::uint32_t n_;
};

}  // namespace cv::core
