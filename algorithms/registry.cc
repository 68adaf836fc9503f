#include "algorithms/registry.h"

#include <algorithm>
#include <iterator>

#include "algorithms/appo.h"
#include "algorithms/ppo.h"
#include "algorithms/sac.h"

namespace robofleet::algorithms {
namespace {

template <class A>
std::unique_ptr<OnPolicyAlgorithm> MakeOnPolicy(const AlgorithmConfig& config, ActorCritic policy) {
  return std::make_unique<A>(config, policy);
}

template <class A>
std::unique_ptr<OffPolicyAlgorithm> MakeOffPolicy(const AlgorithmConfig& config,
                                                  ActorCritic policy) {
  return std::make_unique<A>(config, policy);
}

// A row of each kind: the factory field the class fits, the other null.
template <class A>
constexpr AlgorithmEntry OnPolicy(const char* name, AlgorithmEntry::Validate validate) {
  return {name, &MakeOnPolicy<A>, nullptr, validate};
}
template <class A>
constexpr AlgorithmEntry OffPolicy(const char* name, AlgorithmEntry::Validate validate) {
  return {name, nullptr, &MakeOffPolicy<A>, validate};
}

// one line per algorithm: name, class, config check
constexpr AlgorithmEntry kAlgorithms[] = {
    OnPolicy<Ppo>("ppo", nullptr),
    OnPolicy<Appo>("appo", &ValidateAppoConfig),
    OffPolicy<Sac>("sac", &ValidateSacConfig),
};

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i > 0 ? ", " : "") + names[i];
  return out;
}

// "ppo, appo": the names of one kind, for errors.
std::string NamesOfKind(bool off_policy) {
  std::vector<std::string> names;
  for (const AlgorithmEntry& entry : kAlgorithms) {
    if (entry.off_policy() == off_policy) names.emplace_back(entry.name);
  }
  return Join(names);
}

}  // namespace

std::vector<std::string> AlgorithmNames() {
  std::vector<std::string> names;
  for (const AlgorithmEntry& entry : kAlgorithms) names.emplace_back(entry.name);
  return names;
}

const AlgorithmEntry* FindAlgorithm(const std::string& name) {
  auto it = std::find_if(std::begin(kAlgorithms), std::end(kAlgorithms),
                         [&](const AlgorithmEntry& entry) { return name == entry.name; });
  return it != std::end(kAlgorithms) ? &*it : nullptr;
}

const AlgorithmEntry& GetAlgorithm(const std::string& name) {
  if (const AlgorithmEntry* entry = FindAlgorithm(name)) return *entry;
  // name the valid choices, and the likely intended one
  const std::vector<std::string> names = AlgorithmNames();
  std::string problem = "is '" + name + "'; valid algorithms: " + Join(names);
  const std::string closest = ClosestName(name, names);
  if (!closest.empty()) problem += " (did you mean '" + closest + "'?)";
  RejectConfigKey("algorithm.name", problem);
}

bool IsOffPolicy(const std::string& name) { return GetAlgorithm(name).off_policy(); }

void ValidateAlgorithm(const ExperimentConfig& config) {
  const std::string& name = config.algorithm.name;
  const AlgorithmEntry& entry = GetAlgorithm(name);
  if (entry.validate != nullptr) entry.validate(config);
  if (!entry.off_policy()) return;
  // what the off-policy learner loop (learner/off_policy_learner.cc) cannot do yet
  if (config.train.deterministic) {
    RejectConfigKey("train.deterministic", "is not supported by " + name + " yet; turn it off");
  }
  if (config.learner.receive_during_update) {
    RejectConfigKey("learner.receive_during_update",
                    "is not supported by " + name + "; turn it off");
  }
  if (config.learner.device != "cpu") {
    RejectConfigKey("learner.device", "is '" + config.learner.device + "', but " + name +
                                          "'s learner runs on the cpu only; set "
                                          "learner.device: cpu");
  }
}

std::unique_ptr<OnPolicyAlgorithm> CreateOnPolicyAlgorithm(const AlgorithmConfig& config,
                                                           ActorCritic policy) {
  const AlgorithmEntry& entry = GetAlgorithm(config.name);
  if (entry.make_on_policy == nullptr) {
    throw UserError("algorithm '" + config.name +
                    "' is off-policy, and this needs an "
                    "on-policy one: " +
                    NamesOfKind(false));
  }
  return entry.make_on_policy(config, policy);
}

std::unique_ptr<OffPolicyAlgorithm> CreateOffPolicyAlgorithm(const AlgorithmConfig& config,
                                                             ActorCritic policy) {
  const AlgorithmEntry& entry = GetAlgorithm(config.name);
  if (entry.make_off_policy == nullptr) {
    throw UserError("algorithm '" + config.name +
                    "' is on-policy, and this needs an "
                    "off-policy one: " +
                    NamesOfKind(true));
  }
  return entry.make_off_policy(config, policy);
}

}  // namespace robofleet::algorithms
