#include "pg/core_first.h"
#include "pg/guard.h"
#include "pg/result_store.h"

extern "C" {
#include "access/htup_details.h"
}

namespace cv::pg {

ResultStore::ResultStore(std::size_t lookups) : where_(lookups) {
    pg_call([&] { file_ = BufFileCreateTemp(false); });
}

ResultStore::~ResultStore() {
    if (file_ != nullptr) BufFileClose(file_);
}

void ResultStore::put(std::size_t lookup, Datum result) {
    pg_call([&] {
        if (!at_end_) {
            // Writes always append: find the end again after reading.
            if (BufFileSeek(file_, 0, 0, SEEK_END) != 0)
                ereport(ERROR, (errcode_for_file_access(), errmsg("could not seek in a temporary file: %m")));
            at_end_ = true;
        }
        Position p;
        BufFileTell(file_, &p.file, &p.offset);
        const struct varlena* v = reinterpret_cast<const struct varlena*>(DatumGetPointer(result));
        const uint32 len = VARSIZE(v);
        BufFileWrite(file_, const_cast<uint32*>(&len), sizeof len);
        BufFileWrite(file_, const_cast<struct varlena*>(v), len);
        where_[lookup] = p;
    });
}

Datum ResultStore::get(std::size_t lookup) {
    const Position p = where_[lookup];
    return pg_value([&] {
        at_end_ = false;
        if (BufFileSeek(file_, p.file, p.offset, SEEK_SET) != 0)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not seek in a temporary file: %m")));
        uint32 len = 0;
        if (BufFileRead(file_, &len, sizeof len) != sizeof len)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not read a temporary file: %m")));
        char* data = static_cast<char*>(palloc(len));
        if (BufFileRead(file_, data, len) != len)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not read a temporary file: %m")));
        return PointerGetDatum(data);
    });
}

}  // namespace cv::pg
