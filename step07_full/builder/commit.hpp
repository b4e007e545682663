// `commit`: a container's changes become an image. The front end's container keeps its
// overlay upper directory in <docker data>/containers/<id>/upper (docker/manager.hpp); that
// directory, deletions (whiteouts) and replaced directories (opaque) included, is written as one
// layer tar (layer.hpp) on top of the container's image, and the config takes the container's
// Config with Docker's -c changes (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR).
#pragma once

#include <string>
#include <vector>

namespace builder {

struct CommitOptions {
    std::string container;             // name, id or unique id prefix
    std::string repo_tag;              // NAME[:TAG], "" for an untagged image
    std::vector<std::string> changes;  // -c 'CMD ["sh"]'
    std::string message;               // -m: the history entry's comment
    std::string author;                // -a
    std::string data_root;             // the front end's data dir ("" = state::root_dir()/docker)
};

// Returns the new image's id ("sha256:..."). Error 1 "No such container: X"; Error 125 for a
// bad change line (with its column) or reference; nothing is stored on an error.
std::string commit(const CommitOptions& opts);

}  // namespace builder
