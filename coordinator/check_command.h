/* coordinator/check_command.h: the command check kind: a command run on
 * the host through its transport connection by the gate; exit 0 passes
 * (docs/health.md). Its only key is command (a template). Its data in the
 * plan (plan_check.data) is the command template, and rendered for a host
 * (rollout_check.host) the command, both as char *. */
#ifndef DROVER_CHECK_COMMAND_H
#define DROVER_CHECK_COMMAND_H

#include "check.h"

extern const struct check_kind check_command;

#endif
