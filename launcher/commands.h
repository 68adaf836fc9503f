// The robofleet subcommands. Each takes the arguments after its name
// (argv[0] is the subcommand) and returns the process exit status; bad input
// throws UserError, which main() prints as one line with status 2. The
// helpers they share are in launcher/cli.h.
#ifndef ROBOFLEET_LAUNCHER_COMMANDS_H_
#define ROBOFLEET_LAUNCHER_COMMANDS_H_

#include <string>

namespace robofleet::launcher {

// The whole of `robofleet ARGS...`: picks the subcommand by argv[1] and
// returns the exit status. Bad input of any command (a UserError, or an
// option cxxopts cannot parse) is one line on stderr and status 2; any other
// failure is one line and status 1.
int RobofleetMain(int argc, char** argv);

int TrainCommand(int argc, char** argv);
int ActorCommand(int argc, char** argv);
int LearnerCommand(int argc, char** argv);
int BenchCommand(int argc, char** argv);
// The benches `robofleet bench` picks from (launcher/bench/); BenchOffPolicy
// runs the off-policy algorithm `name` (robofleet bench NAME).
int BenchLearner(int argc, char** argv);
int BenchOffPolicy(const std::string& name, int argc, char** argv);
int BenchInference(int argc, char** argv);
int BenchEnv(int argc, char** argv);
int BenchSystem(int argc, char** argv);
int ConfigCommand(int argc, char** argv);
int SweepCommand(int argc, char** argv);
int ExportCommand(int argc, char** argv);
int EvalCommand(int argc, char** argv);

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_COMMANDS_H_
