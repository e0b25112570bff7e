#include "pg/core_first.h"

#include "pg/recorder_message.h"

#include "pg/guard.h"

extern "C" {
#include "utils/jsonb.h"
}

namespace cv::pg {

namespace {

constexpr char kMagic[4] = {'C', 'V', 'M', '1'};

void put_u32(std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

void put_block(std::string& out, const char* data, std::size_t n) {
    put_u32(out, static_cast<std::uint32_t>(n));
    out.append(data, n);
}

class Reader {
public:
    explicit Reader(const std::string& s) : s_(s) {}
    std::uint32_t u32() {
        need(sizeof(std::uint32_t));
        std::uint32_t v;
        std::memcpy(&v, s_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    std::string block() {
        const std::uint32_t n = u32();
        need(n);
        std::string out = s_.substr(pos_, n);
        pos_ += n;
        return out;
    }
    void magic() {
        need(sizeof kMagic);
        if (std::memcmp(s_.data(), kMagic, sizeof kMagic) != 0) bad();
        pos_ += sizeof kMagic;
    }

private:
    void need(std::size_t n) const {
        if (pos_ + n > s_.size()) bad();
    }
    [[noreturn]] static void bad() {
        throw core::Error(core::ErrorKind::Internal, "not a recording message (truncated or garbled)");
    }
    const std::string& s_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string encode_message(const RecordingTarget& target, const std::vector<core::Observation>& observations,
                           const std::vector<Datum>& raw) {
    std::string out(kMagic, sizeof kMagic);
    const std::string header = nlohmann::json{{"server_name", target.server_name},
                                              {"role_name", target.role_name},
                                              {"api_url", target.api_url},
                                              {"api_key_id", target.api_key_id}}
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    put_block(out, header.data(), header.size());
    put_u32(out, static_cast<std::uint32_t>(observations.size()));
    for (std::size_t i = 0; i < observations.size(); ++i) {
        const std::string o =
            observations[i].to_json(false).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        put_block(out, o.data(), o.size());
        if (raw[i] == 0) {
            put_u32(out, 0);
        } else {
            const struct varlena* v = reinterpret_cast<const struct varlena*>(DatumGetPointer(raw[i]));
            put_block(out, reinterpret_cast<const char*>(v), VARSIZE_ANY(v));
        }
    }
    return out;
}

RecorderMessage decode_message(const std::string& bytes) {
    Reader r(bytes);
    r.magic();
    RecorderMessage m;
    const nlohmann::json header = nlohmann::json::parse(r.block());
    m.target.server_name = header.at("server_name").get<std::string>();
    m.target.role_name = header.at("role_name").get<std::string>();
    m.target.api_url = header.at("api_url").get<std::string>();
    m.target.api_key_id = header.at("api_key_id").get<std::string>();
    const std::uint32_t count = r.u32();
    for (std::uint32_t i = 0; i < count; ++i) {
        m.observations.push_back(core::Observation::from_json(nlohmann::json::parse(r.block())));
        const std::string raw = r.block();
        if (raw.empty()) {
            m.raw.push_back(0);
            continue;
        }
        if (raw.size() < VARHDRSZ || VARSIZE_ANY(raw.data()) != raw.size())
            throw core::Error(core::ErrorKind::Internal, "a raw record in a recording message is garbled");
        m.raw.push_back(pg_value([&] {
            void* p = palloc(raw.size());
            std::memcpy(p, raw.data(), raw.size());
            return PointerGetDatum(p);
        }));
    }
    return m;
}

std::string message_as_json(const RecorderMessage& m) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < m.observations.size(); ++i) {
        nlohmann::json o = m.observations[i].to_json(false);
        if (m.raw[i] != 0) {
            const char* text = pg_value([&] {
                Jsonb* jb = DatumGetJsonbP(m.raw[i]);
                return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
            });
            o["raw"] = nlohmann::json::parse(text, nullptr, false);
        }
        list.push_back(std::move(o));
    }
    return nlohmann::json{{"server_name", m.target.server_name},
                          {"role_name", m.target.role_name},
                          {"api_url", m.target.api_url},
                          {"api_key_id", m.target.api_key_id},
                          {"observations", std::move(list)}}
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cv::pg
