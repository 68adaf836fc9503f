#include "learner/export.h"

#include <cstdio>
#include <limits>

#include "core/check.h"
#include "learner/checkpoint.h"

namespace robofleet::learner {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonStrings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + JsonString(v[i]);
  return out + "]";
}

}  // namespace

torch::jit::Module BuildPolicyModule(ActorCritic& policy, const RunningNormalizer& normalizer) {
  torch::jit::Module module("RoboFleetPolicy");
  const int D = policy->obs_dim();

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

  // the actor MLP's linear layers as w<i>, b<i>
  std::string body;
  int layer = 0;
  const std::string& act = policy->config().activation;
  for (size_t i = 0; i < policy->actor()->size(); ++i) {
    auto* linear = policy->actor()->ptr(i)->as<torch::nn::Linear>();
    if (linear == nullptr) continue;
    const std::string w = "w" + std::to_string(layer), b = "b" + std::to_string(layer);
    module.register_parameter(w, linear->weight.detach().clone(), false);
    module.register_parameter(b, linear->bias.detach().clone(), false);
    body += "    x = torch.linear(x, self." + w + ", self." + b + ")\n";
    body += "    x = torch." + act + "(x)\n";
    ++layer;
  }
  // no activation after the last layer
  body.erase(body.rfind("    x = torch."));
  ROBOFLEET_CHECK(layer >= 1);

  module.define(
      "def normalize(self, obs: Tensor) -> Tensor:\n"
      "    return torch.clamp((obs - self.obs_mean) * self.obs_inv_std, -self.obs_clip, "
      "self.obs_clip)\n"
      "def action_mean(self, obs: Tensor) -> Tensor:\n"
      "    x = self.normalize(obs)\n" +
      body +
      "    return x\n"
      "def forward(self, obs: Tensor) -> Tensor:\n"
      "    return torch.clamp(self.action_mean(obs), -1.0, 1.0)\n");
  module.eval();
  return module;
}

std::string MetadataJson(const ActorCritic& policy, const PolicyMetadata& metadata) {
  std::string json = "{\n";
  json += "  \"format\": \"robofleet-policy\",\n";
  json += "  \"obs_dim\": " + std::to_string(policy->obs_dim()) + ",\n";
  json += "  \"act_dim\": " + std::to_string(policy->act_dim()) + ",\n";
  json += "  \"obs_names\": " + JsonStrings(metadata.obs_names) + ",\n";
  json += "  \"act_names\": " + JsonStrings(metadata.act_names) + ",\n";
  json += "  \"env_id\": " + JsonString(metadata.env_id) + ",\n";
  json += "  \"env_steps\": " + std::to_string(metadata.env_steps) + ",\n";
  json += "  \"config\": " + JsonString(metadata.config_yaml) + "\n";
  return json + "}\n";
}

void ExportPolicy(ActorCritic& policy, const RunningNormalizer& normalizer,
                  const PolicyMetadata& metadata, const std::string& path) {
  torch::jit::Module module = BuildPolicyModule(policy, normalizer);
  torch::jit::ExtraFilesMap extra{{"metadata.json", MetadataJson(policy, metadata)}};
  const std::string tmp = path + ".tmp";
  module.save(tmp, extra);
  CommitFile(tmp, path);
}

}  // namespace robofleet::learner
