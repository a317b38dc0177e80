#include "common/result.h"

namespace dm {

const char* errc_name(Errc c) noexcept {
  switch (c) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::unauthenticated: return "unauthenticated";
    case Errc::permission_denied: return "permission_denied";
    case Errc::conflict: return "conflict";
    case Errc::unavailable: return "unavailable";
    case Errc::timeout: return "timeout";
    case Errc::cancelled: return "cancelled";
    case Errc::too_large: return "too_large";
    case Errc::protocol: return "protocol";
    case Errc::failed_precondition: return "failed_precondition";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace dm
