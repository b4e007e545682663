// step07_full-frontend: docker's command line on top of the runtime (issues 11 and 12). main.cpp
// of step07_full hands over every line that is not certainly runc's; each front end claims its
// own (builder: build, commit; image: pull, push, images, ...; docker: run IMAGE, ps, logs,
// exec, ...), and what none claims is runc's after all (`ps ID`, `exec ID` of a plain runtime
// container), so the two executables accept the same lines.
#include "runtime_main.hpp"

#ifdef MINIBOX_HAVE_BUILDER_CLI
#include "builder/cli.hpp"
#endif
#ifdef MINIBOX_HAVE_IMAGE_CLI
#include "image/cli.hpp"
#endif
#ifdef MINIBOX_HAVE_DOCKER_CLI
#include "docker/cli.hpp"
#endif
#include "narrate.hpp"

int main(int argc, char** argv) {
    narrate::set_program("step07_full");
#ifdef MINIBOX_HAVE_BUILDER_CLI
    if (builder_cli::claims(argc, argv)) return builder_cli::main(argc, argv);
#endif
#ifdef MINIBOX_HAVE_IMAGE_CLI
    if (image_cli::claims(argc, argv)) return image_cli::main(argc, argv);
#endif
#ifdef MINIBOX_HAVE_DOCKER_CLI
    if (docker_cli::claims(argc, argv)) return docker_cli::main(argc, argv);
#endif
    return runtime_main(argc, argv);
}
