// The docker commands of step07_full, without a daemon (as podman): run, ps, logs, exec, stop,
// kill, start, restart, rm, wait, inspect, top, stats, pause, unpause, rename, port, container
// ... main.cpp hands a command line here when claims() says it is ours (before runc's CLI).
#pragma once

namespace docker_cli {
// Looks at argv only (and, for exec/kill/start/pause, whether the named container is one of the
// front end's records): cheap, no side effects. runc's forms stay runc's: `run -b/--bundle`,
// `ps ID`, and any line with a global --root/--log before the command (engines pass them).
bool claims(int argc, char** argv);
int main(int argc, char** argv);
}  // namespace docker_cli
