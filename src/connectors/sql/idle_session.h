// Pooled sessions of the SQL connectors, checked before they are handed out again.
#pragma once

namespace strata::sql {

// Whether a pooled session's socket `fd` shows that the server ended it while it sat idle: an
// idle session has nothing to read, so a readable socket (an error message, the connection's
// end) means the server terminated it (pg_terminate_backend, KILL, a restart, a timeout) or sent
// something unexpected; either way it is not handed out again. A negative fd counts as ended.
bool idle_session_ended(int fd);

}  // namespace strata::sql
