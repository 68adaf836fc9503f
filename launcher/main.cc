// robofleet: one binary, one subcommand per process role.
#include "launcher/commands.h"

int main(int argc, char** argv) { return robofleet::launcher::RobofleetMain(argc, argv); }
