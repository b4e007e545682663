// The image commands of step07_full, docker's words: pull, push, images, image ls|inspect|rm|
// prune|tag|load|save|pull|push, tag, rmi, load, save. main.cpp hands a command line here when
// claims() says it is ours (before runc's CLI parses it).
#pragma once

namespace image_cli {
// Looks at argv only (the command word): cheap, no side effects.
bool claims(int argc, char** argv);
int main(int argc, char** argv);
}  // namespace image_cli
