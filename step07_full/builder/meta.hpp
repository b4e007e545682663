// The instructions that change only an image's config (no layer): ENV LABEL EXPOSE USER CMD
// ENTRYPOINT SHELL VOLUME STOPSIGNAL MAINTAINER. Shared by build (one step each) and commit's
// -c 'CMD ...' changes. Fields as in Docker's image config ("config": Env, Labels, ExposedPorts,
// User, Cmd, Entrypoint, Shell, Volumes, StopSignal; "author").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dockerfile.hpp"

namespace builder {

// Applies `ins` to the whole image config `image_config`, with `vars` for expansion. `cmd_set`:
// whether a CMD was given in this stage (a new ENTRYPOINT resets an inherited CMD); CMD sets
// it. Returns the instruction as it took effect ("ENV A=1"), for the cache and the history.
// Error for an instruction that is not one of these.
std::string apply_meta(nlohmann::json& image_config, const Instruction& ins, const Env& vars, char escape, bool& cmd_set);

// The shell the shell forms run under: config.Shell, else ["/bin/sh", "-c"].
std::vector<std::string> shell_of(const nlohmann::json& image_config);
// RUN / CMD / ENTRYPOINT's command: the exec form as written, the shell form under the shell.
std::vector<std::string> command_of(const nlohmann::json& image_config, const Instruction& ins);
std::vector<std::string> strings_of(const nlohmann::json& j);

// Which instructions apply_meta takes (also the ones `commit -c` accepts, as Docker's).
bool is_meta(const std::string& keyword);

}  // namespace builder
