// The env registry: task name -> factory, as one explicit table.
//
// Adding a task is one line in registry.cc. There are no self-registering
// globals, so every linked binary knows the same tasks and static
// initialisation order never matters.
//
// Thread-safety: all functions may be called from any thread.
#ifndef ROBOFLEET_ENVS_REGISTRY_H_
#define ROBOFLEET_ENVS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/env.h"

namespace robofleet::envs {

// Names of all registered tasks, sorted.
std::vector<std::string> EnvNames();

// A new env for config.id, owned by the caller. Envs of one task share a
// read-only model loaded once per process.
// Throws robofleet::UserError for an unknown id ("unknown env 'X'; available:
// a, b"), a bad config, or a model that fails to load.
std::unique_ptr<Env> MakeEnv(const EnvConfig& config);

// The spec an env made from `config` would have (builds one to find out).
// Throws like MakeEnv.
EnvSpec GetEnvSpec(const EnvConfig& config);

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_REGISTRY_H_
