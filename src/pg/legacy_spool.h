// Answers version 0.1.0 left in spool files ($PGDATA/pg_contractor_verify/
// <database>/<xid>-<pid>-<seq>.jsonl) for transactions that did not commit:
// the worker records them once, when it first starts after the upgrade, and
// removes the files. A file or line it cannot read or record is set aside in
// contractor_verify.unrecorded_answers with a WARNING, never retried.
#pragma once

namespace cv::pg {

// Called by the worker, outside any transaction.
void import_legacy_spool();

}  // namespace cv::pg
