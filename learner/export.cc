#include "learner/export.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/json.h"
#include "learner/checkpoint.h"

namespace robofleet::learner {
namespace {

std::string JsonStrings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + JsonString(v[i]);
  return out + "]";
}

std::string JsonNumbers(const std::vector<double>& v) {
  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%.9g", v[i]);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "]";
}

// Registers an MLP's linear layers as parameters <prefix><i>_w / <prefix><i>_b
// and returns the TorchScript lines that apply it to `x`: the activation
// between layers, and after the last one too when `trailing_activation`.
std::string RegisterMlp(torch::jit::Module& module, torch::nn::Sequential& mlp,
                        const std::string& prefix, const std::string& activation,
                        bool trailing_activation = false) {
  std::string body;
  int layer = 0;
  for (size_t i = 0; i < mlp->size(); ++i) {
    auto* linear = mlp->ptr(i)->as<torch::nn::Linear>();
    if (linear == nullptr) continue;
    const std::string w = prefix + std::to_string(layer) + "_w";
    const std::string b = prefix + std::to_string(layer) + "_b";
    module.register_parameter(w, linear->weight.detach().clone(), false);
    module.register_parameter(b, linear->bias.detach().clone(), false);
    if (layer > 0) body += "    x = torch." + activation + "(x)\n";
    body += "    x = torch.linear(x, self." + w + ", self." + b + ")\n";
    ++layer;
  }
  ROBOFLEET_CHECK(layer >= 1);
  if (trailing_activation) body += "    x = torch." + activation + "(x)\n";
  return body;
}

}  // namespace

torch::jit::Module BuildPolicyModule(ActorCritic& policy, const RunningNormalizer& normalizer,
                                     const PolicyMetadata& metadata) {
  torch::jit::Module module("RoboFleetPolicy");
  const int D = policy->obs_dim(), A = policy->act_dim();

  // normaliser as buffers: exactly the float32 values the learner applies
  torch::Tensor mean = torch::zeros({D}), inv_std = torch::ones({D});
  double clip = std::numeric_limits<float>::max();
  if (normalizer.enabled()) {
    mean = torch::tensor(normalizer.mean_f32());
    inv_std = torch::tensor(normalizer.inv_std_f32());
    clip = normalizer.clip();
  }
  module.register_buffer("obs_mean", mean);
  module.register_buffer("obs_inv_std", inv_std);
  module.register_attribute("obs_clip", c10::FloatType::get(), clip);

  // the actuator mapping of actuator_action
  const auto per_action = [A](const std::vector<double>& v, double fill) {
    ROBOFLEET_CHECK(v.empty() || static_cast<int>(v.size()) == A);
    return v.empty() ? torch::full({A}, fill) : torch::tensor(v).to(torch::kFloat32);
  };
  ROBOFLEET_CHECK(metadata.act_low.size() == metadata.act_high.size());
  ROBOFLEET_CHECK(metadata.act_offset.size() == metadata.act_scale.size());
  const torch::Tensor low = per_action(metadata.act_low, -1.0);
  const torch::Tensor high = per_action(metadata.act_high, 1.0);
  module.register_buffer("act_low", low);
  module.register_buffer("act_high", high);
  module.register_buffer("act_offset", metadata.act_offset.empty()
                                           ? (0.5 * (high + low)).contiguous()
                                           : per_action(metadata.act_offset, 0.0));
  module.register_buffer("act_scale", metadata.act_scale.empty()
                                          ? (0.5 * (high - low)).contiguous()
                                          : per_action(metadata.act_scale, 1.0));
  const PolicyConfig& config = policy->config();
  const std::string& act = config.activation;
  const std::string act_dim_text = std::to_string(A);
  // the shared trunk, when there is one, runs inside features()
  std::string features = "    x = self.normalize(obs)\n";
  if (config.shared_trunk) features += RegisterMlp(module, policy->trunk(), "trunk", act, true);
  const std::string actor = RegisterMlp(module, policy->actor(), "pi", act);
  const std::string critic = RegisterMlp(module, policy->critic(), "vf", act);
  // a privileged critic's entries follow the actor's: the actor reads the first ones
  const std::string actor_input =
      policy->privileged_dim() > 0
          ? "    x = x.narrow(-1, 0, " + std::to_string(policy->policy_obs_dim()) + ")\n"
          : "";
  // the normaliser covers every entry; an observation without the privileged
  // ones uses its first part
  const std::string norm_stats = policy->privileged_dim() > 0
                                     ? "    n = obs.size(-1)\n"
                                       "    mean = self.obs_mean.narrow(0, 0, n)\n"
                                       "    inv_std = self.obs_inv_std.narrow(0, 0, n)\n"
                                     : "    mean = self.obs_mean\n"
                                       "    inv_std = self.obs_inv_std\n";

  // the Gaussian: the actor's output (its first half with a state-dependent
  // std) and the clamped log std (the parameter, or the second half)
  module.register_attribute("log_std_min", c10::FloatType::get(), config.log_std_range[0]);
  module.register_attribute("log_std_max", c10::FloatType::get(), config.log_std_range[1]);
  std::string mean_of_x = "x", log_std_of_x;
  if (config.state_dependent_std) {
    mean_of_x = "x.narrow(-1, 0, " + act_dim_text + ")";
    log_std_of_x = "torch.clamp(x.narrow(-1, " + act_dim_text + ", " + act_dim_text +
                   "), self.log_std_min, self.log_std_max)";
  } else {
    module.register_parameter("log_std", policy->log_std().detach().clone(), false);
    log_std_of_x = "torch.clamp(self.log_std, self.log_std_min, self.log_std_max).expand_as(mean)";
  }
  // tanh(u) when squashing, else the env's clip to [-1, 1]
  const std::string squash = config.tanh_squash ? "torch.tanh(u)" : "torch.clamp(u, -1.0, 1.0)";

  // value de-normalisation: exactly the float32 statistics the learner applies
  module.register_buffer("value_mean", policy->value_mean_f32().clone());
  module.register_buffer("value_std", policy->value_std_f32().clone());
  const std::string value_return =
      config.normalize_value ? "    return x.squeeze(-1) * self.value_std + self.value_mean\n"
                             : "    return x.squeeze(-1)\n";

  // what the actor reads (the stack of the last `history` observations, or
  // the one) gives actions; forward() and the others below take one step's
  // observation, with the stack as the state when there is one
  const int history = std::max(1, metadata.obs_history);
  const int input_dim = policy->policy_obs_dim();
  ROBOFLEET_CHECK(input_dim % history == 0);
  const std::string step_dim = std::to_string(input_dim / history);
  const std::string state_dim = std::to_string(input_dim);
  std::string stepping;
  if (history == 1) {
    stepping =
        "def forward(self, obs: Tensor) -> Tensor:\n"
        "    return self.deterministic_action(obs)\n"
        "def stochastic_action(self, obs: Tensor) -> Tensor:\n"
        "    return self.sampled_action(obs)\n"
        "def actuator_action(self, obs: Tensor) -> Tensor:\n"
        "    return self.to_actuators(self.forward(obs))\n"
        "def reset(self) -> None:\n"
        "    pass\n"
        "def act(self, obs: Tensor) -> Tensor:\n"
        "    return self.forward(obs)\n";
  } else {
    module.register_attribute("state", c10::TensorType::get(),
                              torch::zeros({0, static_cast<int64_t>(input_dim)}));
    stepping =
        "def initial_state(self, batch: int) -> Tensor:\n"
        "    return torch.zeros([batch, " +
        state_dim +
        "])\n"
        "def next_state(self, obs: Tensor, state: Tensor) -> Tensor:\n"
        "    return torch.cat([state.narrow(1, " +
        step_dim + ", " + state_dim + " - " + step_dim +
        "), obs], 1)\n"
        "def forward(self, obs: Tensor, state: Tensor) -> Tuple[Tensor, Tensor]:\n"
        "    x = self.next_state(obs, state)\n"
        "    return self.deterministic_action(x), x\n"
        "def stochastic_action(self, obs: Tensor, state: Tensor) -> Tuple[Tensor, Tensor]:\n"
        "    x = self.next_state(obs, state)\n"
        "    return self.sampled_action(x), x\n"
        "def actuator_action(self, obs: Tensor, state: Tensor) -> Tuple[Tensor, Tensor]:\n"
        "    x = self.next_state(obs, state)\n"
        "    return self.to_actuators(self.deterministic_action(x)), x\n"
        "def reset(self) -> None:\n"
        "    self.state = torch.zeros([0, " +
        state_dim +
        "])\n"
        "def act(self, obs: Tensor) -> Tensor:\n"
        "    if self.state.size(0) != obs.size(0):\n"
        "        self.state = self.initial_state(obs.size(0))\n"
        "    out = self.forward(obs, self.state)\n"
        "    self.state = out[1]\n"
        "    return out[0]\n";
  }

  module.define("def normalize(self, obs: Tensor) -> Tensor:\n" + norm_stats +
                "    return torch.clamp((obs - mean) * inv_std, -self.obs_clip, self.obs_clip)\n"
                "def features(self, obs: Tensor) -> Tensor:\n" +
                features +
                "    return x\n"
                "def actor_output(self, obs: Tensor) -> Tensor:\n"
                "    x = self.features(obs)\n" +
                actor_input + actor +
                "    return x\n"
                "def action_mean(self, obs: Tensor) -> Tensor:\n"
                "    x = self.actor_output(obs)\n"
                "    return " +
                mean_of_x +
                "\n"
                "def distribution(self, obs: Tensor) -> Tuple[Tensor, Tensor]:\n"
                "    x = self.actor_output(obs)\n"
                "    mean = " +
                mean_of_x +
                "\n"
                "    return mean, " +
                log_std_of_x +
                "\n"
                "def action_log_std(self, obs: Tensor) -> Tensor:\n"
                "    return self.distribution(obs)[1]\n"
                "def deterministic_action(self, obs: Tensor) -> Tensor:\n"
                "    u = self.action_mean(obs)\n"
                "    return " +
                squash +
                "\n"
                "def sampled_action(self, obs: Tensor) -> Tensor:\n"
                "    mean, log_std = self.distribution(obs)\n"
                "    u = mean + torch.exp(log_std) * torch.randn_like(mean)\n"
                "    return " +
                squash +
                "\n"
                "def to_actuators(self, a: Tensor) -> Tensor:\n"
                "    u = self.act_offset + self.act_scale * a\n"
                "    return torch.maximum(torch.minimum(u, self.act_high), self.act_low)\n"
                "def value(self, obs: Tensor) -> Tensor:\n"
                "    x = self.features(obs)\n" +
                critic + value_return + stepping);
  module.eval();
  return module;
}

std::string MetadataJson(const ActorCritic& policy, const PolicyMetadata& metadata) {
  // the env section of the resolved config, as YAML of its own
  std::string env_config;
  try {
    YAML::Node env = YAML::Load(metadata.config_yaml)["env"];
    if (env) env_config = YAML::Dump(env) + "\n";
  } catch (const YAML::Exception&) {
  }
  std::string json = "{\n";
  json += "  \"format\": \"robofleet-policy\",\n";
  json += "  \"robofleet_version\": " + JsonString(ROBOFLEET_VERSION) + ",\n";
  // obs_dim and obs_names are what forward() takes each step (with a
  // history, the newest of the stack the state holds); value() takes the
  // privileged entries after the stack
  const int history = std::max(1, metadata.obs_history);
  const size_t policy_dim = static_cast<size_t>(policy->policy_obs_dim());
  const size_t step_dim = policy_dim / history;
  const std::vector<std::string>& names = metadata.obs_names;
  const size_t split = std::min(policy_dim, names.size());
  json += "  \"obs_dim\": " + std::to_string(step_dim) + ",\n";
  json += "  \"act_dim\": " + std::to_string(policy->act_dim()) + ",\n";
  json += "  \"obs_names\": " +
          JsonStrings(std::vector<std::string>(names.begin() + (split - std::min(split, step_dim)),
                                               names.begin() + split)) +
          ",\n";
  json += "  \"obs_history\": " + std::to_string(history) + ",\n";
  json += "  \"state_dim\": " + std::to_string(history > 1 ? policy_dim : 0) + ",\n";
  json += "  \"privileged_dim\": " + std::to_string(policy->privileged_dim()) + ",\n";
  json += "  \"privileged_names\": " +
          JsonStrings(std::vector<std::string>(names.begin() + split, names.end())) + ",\n";
  json += "  \"act_names\": " + JsonStrings(metadata.act_names) + ",\n";
  json += "  \"act_low\": " + JsonNumbers(metadata.act_low) + ",\n";
  json += "  \"act_high\": " + JsonNumbers(metadata.act_high) + ",\n";
  if (!metadata.act_offset.empty()) {
    json += "  \"act_offset\": " + JsonNumbers(metadata.act_offset) + ",\n";
    json += "  \"act_scale\": " + JsonNumbers(metadata.act_scale) + ",\n";
  }
  json += "  \"env_id\": " + JsonString(metadata.env_id) + ",\n";
  json += "  \"env_config\": " + JsonString(env_config) + ",\n";
  json += "  \"env_steps\": " + std::to_string(metadata.env_steps) + ",\n";
  if (!metadata.controller_json.empty()) {
    json += "  \"controller\": " + metadata.controller_json + ",\n";
  }
  json += "  \"config\": " + JsonString(metadata.config_yaml) + "\n";
  return json + "}\n";
}

void ExportPolicy(ActorCritic& policy, const RunningNormalizer& normalizer,
                  const PolicyMetadata& metadata, const std::string& path) {
  torch::jit::Module module = BuildPolicyModule(policy, normalizer, metadata);
  torch::jit::ExtraFilesMap extra{{"metadata.json", MetadataJson(policy, metadata)}};
  WriteAtomically(path, [&](const std::string& tmp) {
    module.save(tmp, extra);
    CheckPolicyFile(tmp, policy->policy_obs_dim() / std::max(1, metadata.obs_history),
                    policy->act_dim());
  });
}

void CheckPolicyFile(const std::string& path, int obs_dim, int act_dim) {
  torch::NoGradGuard no_grad;
  torch::jit::Module loaded = torch::jit::load(path, torch::kCPU);
  const torch::Tensor obs = torch::zeros({2, obs_dim});
  torch::Tensor action;
  if (loaded.find_method("initial_state")) {
    const c10::IValue state = loaded.get_method("initial_state")({int64_t{2}});
    action = loaded.forward({obs, state}).toTuple()->elements()[0].toTensor();
  } else {
    action = loaded.forward({obs}).toTensor();
  }
  if (action.dim() != 2 || action.size(0) != 2 || action.size(1) != act_dim ||
      !torch::isfinite(action).all().item<bool>()) {
    throw std::runtime_error("the policy written to " + path +
                             " does not give finite actions of size " + std::to_string(act_dim) +
                             " for observations of size " + std::to_string(obs_dim));
  }
}

}  // namespace robofleet::learner
