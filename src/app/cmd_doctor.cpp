#include <cstdio>

#include "app/commands.h"

namespace dm::app {

// Placeholder until its issue lands: says so plainly instead of pretending.
int cmd_doctor(int, char**) {
  std::fputs("dagmedic doctor: not built yet\n", stderr);
  return 1;
}

}  // namespace dm::app
