# Turns a JSON file into a C++ source holding it as one string (cmake -P, at build time).
file(READ ${IN} content)
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace seccomp::detail {\nextern const std::string_view kDockerDefaultProfile = R\"minibox(${content})minibox\";\n}\n")
