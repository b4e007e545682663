// The build cache: a step whose parent image, instruction and (for COPY/ADD) copied files are
// the same as last time reuses last time's image instead of running again.
//
// The key is sha256 over: the parent image id, the instruction as it will run (variables
// expanded, build args that RUN sees), and for COPY/ADD a digest of every copied file's name
// at the destination, type, mode, size, link target and content (never its mtime:
// `touch` alone does not invalidate, as with Docker's classic builder). Keys live as small files
// root_dir()/builder/cache/<key> holding the image id; a key whose image is gone is a miss.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace builder {

// One source of a COPY: the file (or directory, taken recursively) on the host and the name it
// gets under the destination.
struct CopySource {
    std::string host_path;  // absolute
    std::string name;       // "dst/dir/file" as it will be laid out
};

// The digest of what a COPY/ADD will copy. `skip(relative path below a source directory)`
// returns true for a file that is left out (.dockerignore), may be empty.
std::string files_digest(const std::vector<CopySource>& sources,
                         const std::function<bool(const std::string&)>& skip = {});

std::string cache_key(const std::string& parent_id, const std::string& instruction, const std::string& files = "");

class Cache {
public:
    explicit Cache(std::string dir);  // created on the first put
    std::optional<std::string> get(const std::string& key) const;
    void put(const std::string& key, const std::string& image_id) const;

private:
    std::string dir_;
};

}  // namespace builder
