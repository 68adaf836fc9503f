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
constexpr AlgorithmEntry OnPolicy(const char* name) {
  return {name, &MakeOnPolicy<A>, nullptr};
}
template <class A>
constexpr AlgorithmEntry OffPolicy(const char* name) {
  return {name, nullptr, &MakeOffPolicy<A>};
}

// one line per algorithm; the first is algorithm.name's default
constexpr AlgorithmEntry kAlgorithms[] = {
    OnPolicy<Ppo>("ppo"),
    OnPolicy<Appo>("appo"),
    OffPolicy<Sac>("sac"),
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
  std::string message =
      "config key 'algorithm.name' is '" + name + "'; valid algorithms: " + Join(names);
  const std::string closest = ClosestName(name, names);
  if (!closest.empty()) message += " (did you mean '" + closest + "'?)";
  throw UserError(message);
}

bool IsOffPolicy(const std::string& name) { return GetAlgorithm(name).off_policy(); }

std::unique_ptr<OnPolicyAlgorithm> CreateOnPolicyAlgorithm(const AlgorithmConfig& config,
                                                           ActorCritic policy) {
  const AlgorithmEntry& entry = GetAlgorithm(config.name);
  if (entry.make_on_policy == nullptr) {
    throw UserError("algorithm '" + config.name + "' is off-policy, and this needs an "
                    "on-policy one: " + NamesOfKind(false));
  }
  return entry.make_on_policy(config, policy);
}

std::unique_ptr<OffPolicyAlgorithm> CreateOffPolicyAlgorithm(const AlgorithmConfig& config,
                                                             ActorCritic policy) {
  const AlgorithmEntry& entry = GetAlgorithm(config.name);
  if (entry.make_off_policy == nullptr) {
    throw UserError("algorithm '" + config.name + "' is on-policy, and this needs an "
                    "off-policy one: " + NamesOfKind(true));
  }
  return entry.make_off_policy(config, policy);
}

}  // namespace robofleet::algorithms
