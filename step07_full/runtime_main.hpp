// runc's command line (runtime_main.cpp): every OCI runtime command of step07_full.
#pragma once

int runtime_main(int argc, char** argv);
