#include "pg/core_first.h"

#include "pg/recorder_message.h"

#include "pg/guard.h"

extern "C" {
#include "utils/jsonb.h"
}

namespace cv::pg {

namespace {

// The format's name and version: a message of another version is not read.
constexpr char kMagic[4] = {'C', 'V', 'M', '3'};

}  // namespace

std::string encode_message(const RecordingTarget& target, const std::vector<core::Observation>& observations,
                           const std::vector<Datum>& raw, RowsSeen seen) {
    std::string out;
    std::size_t raw_bytes = 0;
    for (Datum d : raw)
        if (d != 0) raw_bytes += VARSIZE_ANY(DatumGetPointer(d));
    out.reserve(256 + observations.size() * 384 + raw_bytes);
    core::ByteWriter w(out);
    w.raw(kMagic, sizeof kMagic);
    w.str(target.server_name);
    w.str(target.role_name);
    w.str(target.api_url);
    w.str(target.api_key_id);
    w.u8(seen == RowsSeen::None ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(observations.size()));
    for (std::size_t i = 0; i < observations.size(); ++i) {
        core::encode_observation(observations[i], w, raw[i] != 0);
        if (raw[i] == 0) {
            w.u32(0);
        } else {
            const char* v = DatumGetPointer(raw[i]);
            w.str(std::string_view(v, VARSIZE_ANY(v)));
        }
    }
    return out;
}

RecorderMessage decode_message(const char* bytes, std::size_t size) {
    core::ByteReader r(bytes, size);
    if (std::memcmp(r.take(sizeof kMagic), kMagic, sizeof kMagic) != 0)
        core::ByteReader::garbled("not a recording message (unknown format)");
    RecorderMessage m;
    m.target.server_name = r.str();
    m.target.role_name = r.str();
    m.target.api_url = r.str();
    m.target.api_key_id = r.str();
    m.seen = r.u8() == 1 ? RowsSeen::None : RowsSeen::Unknown;
    const std::uint32_t count = r.u32();
    // Each observation takes far more than one byte: a count beyond what is
    // left is garbled (and reserves nothing).
    if (count > r.remaining()) core::ByteReader::garbled();
    m.observations.reserve(count);
    m.raw.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        m.observations.push_back(core::decode_observation(r));
        const std::string_view raw = r.str_view();
        if (raw.empty()) {
            m.raw.push_back(0);
            continue;
        }
        if (raw.size() < VARHDRSZ || VARATT_IS_EXTERNAL(raw.data()) || VARSIZE_ANY(raw.data()) != raw.size())
            core::ByteReader::garbled("a raw record in a recording message is garbled");
        m.raw.push_back(pg_value([&] {
            void* p = palloc(raw.size());
            std::memcpy(p, raw.data(), raw.size());
            return PointerGetDatum(p);
        }));
    }
    if (!r.at_end()) core::ByteReader::garbled("a recording message has bytes after its end");
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
