#include "connectors/sql/idle_session.h"

#include <poll.h>

namespace strata::sql {

bool idle_session_ended(int fd) {
  if (fd < 0) return true;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace strata::sql
