// The builder's command lines: `step07_full build ...` and `step07_full commit ...` (Docker's
// words and flags; see build.hpp and commit.hpp). main.cpp offers every command line to
// claims() first; it looks at the command word only (runc has neither word).
#pragma once

namespace builder_cli {

bool claims(int argc, char** argv);
int main(int argc, char** argv);

}  // namespace builder_cli
