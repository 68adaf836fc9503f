#include "learner/learner.h"

#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "algorithms/ppo.h"
#include "core/state_file.h"
#include "core/wire.h"
#include "learner/checkpoint.h"
#include "learner/export.h"
#include "learner/learner_parts.h"
#include "tests/temp_folder.h"

namespace robofleet::learner {
namespace {

std::string TempDir(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("robofleet-" + name + "-" + std::to_string(::getpid())))
                        .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A policy and a normaliser with non-trivial statistics.
struct Trained {
  ActorCritic policy{nullptr};
  RunningNormalizer normalizer{5, 5.0, true};
};

Trained MakeTrained(const std::string& activation) {
  SeedTorch(11);
  PolicyConfig pc;
  pc.hidden = {32, 16};
  pc.activation = activation;
  Trained t;
  t.policy = ActorCritic(5, 2, pc);
  // perturb the small last layer so actions are far from zero
  torch::NoGradGuard no_grad;
  for (auto& p : t.policy->parameters()) p.add_(torch::randn(p.sizes()) * 0.3);
  torch::Tensor data = torch::randn({500, 5}) * 3.0 + 1.0;
  t.normalizer.Update(data.data_ptr<float>(), 500);
  return t;
}

class ExportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportTest, LoadedModuleMatchesLearnerPolicy) {
  Trained t = MakeTrained(GetParam());
  const std::string dir = TempDir("export");
  PolicyMetadata meta{"cartpole_swingup",
                      {"a", "b", "c", "d", "e"},
                      {"u", "v"},
                      {-2.0, 0.0},
                      {2.0, 10.0},
                      1234,
                      "name: test\nenv:\n  id: cartpole_swingup\n"};
  ExportPolicy(t.policy, t.normalizer, meta, dir + "/policy.pt");

  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module loaded = torch::jit::load(dir + "/policy.pt", torch::kCPU, extra);
  // 1,000 random observations, some far outside the normaliser's clip
  torch::Tensor obs = torch::randn({1000, 5}) * 10.0;
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = t.policy->Mean(NormalizeObs(obs, t.normalizer)).clamp(-1.0, 1.0);
  }
  torch::Tensor got = loaded.forward({obs}).toTensor();
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LE((got - expected).abs().max().item<float>(), 1e-5);
  EXPECT_GE(got.min().item<float>(), -1.0f);
  EXPECT_LE(got.max().item<float>(), 1.0f);
  // unclamped actions must actually differ from clamped ones somewhere, or the test is weak
  EXPECT_GT(expected.abs().max().item<float>(), 0.1f);
  // one observation at a time gives the same
  torch::Tensor single = loaded.forward({obs.slice(0, 7, 8)}).toTensor();
  EXPECT_LE((single - expected.slice(0, 7, 8)).abs().max().item<float>(), 1e-5);

  // the other methods: value, actuator units, stochastic action
  torch::Tensor value = loaded.get_method("value")({obs}).toTensor();
  torch::Tensor expected_value;
  {
    torch::NoGradGuard no_grad;
    expected_value = t.policy->Value(NormalizeObs(obs, t.normalizer));
  }
  ASSERT_EQ(value.sizes(), expected_value.sizes());
  EXPECT_LE((value - expected_value).abs().max().item<float>(), 1e-4);
  torch::Tensor units = loaded.get_method("actuator_action")({obs}).toTensor();
  torch::Tensor low = torch::tensor({-2.0f, 0.0f}), high = torch::tensor({2.0f, 10.0f});
  EXPECT_LE((units - (low + (expected + 1.0) * 0.5 * (high - low))).abs().max().item<float>(),
            1e-4);
  torch::manual_seed(3);
  torch::Tensor noisy = loaded.get_method("stochastic_action")({obs}).toTensor();
  EXPECT_GE(noisy.min().item<float>(), -1.0f);
  EXPECT_LE(noisy.max().item<float>(), 1.0f);
  EXPECT_GT((noisy - got).abs().mean().item<float>(), 1e-3) << "stochastic action has no noise";

  const std::string& json = extra["metadata.json"];
  for (const char* field : {"\"obs_dim\": 5", "\"act_dim\": 2", "\"env_id\": \"cartpole_swingup\"",
                            "\"env_steps\": 1234", "\"obs_names\": [\"a\"",
                            "\"act_names\": [\"u\", \"v\"]", "\"act_low\": [-2, 0]",
                            "\"act_high\": [2, 10]", "\"env_config\": \"id: cartpole_swingup\\n\"",
                            "\"robofleet_version\": \"", "\"config\": \"name: test\\n"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Activations, ExportTest, ::testing::Values("elu", "tanh", "relu"));

TEST(ExportTest, PrivilegedCriticExportsAPolicyOfTheRobotsObservations) {
  SeedTorch(12);
  PolicyConfig pc;
  pc.hidden = {16};
  ActorCritic policy(5, 2, pc, /*privileged_dim=*/2);
  RunningNormalizer normalizer(5, 5.0, true);
  torch::Tensor data = torch::randn({300, 5}) * 2.0 + 1.0;
  normalizer.Update(data.data_ptr<float>(), 300);
  const std::string dir = TempDir("export-privileged");
  PolicyMetadata meta{
      "hopper",      {"a", "b", "c", "mass_scale:torso", "gravity_scale"}, {"u", "v"}, {}, {}, 10,
      "name: test\n"};
  ExportPolicy(policy, normalizer, meta, dir + "/policy.pt");
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module loaded = torch::jit::load(dir + "/policy.pt", torch::kCPU, extra);

  torch::Tensor full = torch::randn({50, 5}) * 3.0;
  torch::Tensor robot = full.narrow(1, 0, 3).contiguous();
  torch::NoGradGuard no_grad;
  torch::Tensor expected = policy->Mean(NormalizeObs(full, normalizer)).clamp(-1.0, 1.0);
  // forward takes the robot's three observations; the full five give the same
  torch::Tensor got = loaded.forward({robot}).toTensor();
  EXPECT_LE((got - expected).abs().max().item<float>(), 1e-5);
  EXPECT_LE((loaded.forward({full}).toTensor() - expected).abs().max().item<float>(), 1e-5);
  // the critic's value needs the privileged entries
  torch::Tensor value = loaded.get_method("value")({full}).toTensor();
  EXPECT_LE((value - policy->Value(NormalizeObs(full, normalizer))).abs().max().item<float>(),
            1e-4);
  const std::string& json = extra["metadata.json"];
  for (const char* field :
       {"\"obs_dim\": 3", "\"obs_names\": [\"a\", \"b\", \"c\"]", "\"privileged_dim\": 2",
        "\"privileged_names\": [\"mass_scale:torso\", \"gravity_scale\"]"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  std::filesystem::remove_all(dir);
}

TEST(ExportTest, HistoryPolicyKeepsTheStackAsItsState) {
  // three steps of four observations, then two privileged entries
  constexpr int kHistory = 3, kStep = 4, kPrivileged = 2, kStack = kHistory * kStep;
  SeedTorch(13);
  PolicyConfig pc;
  pc.hidden = {16};
  ActorCritic policy(kStack + kPrivileged, 2, pc, kPrivileged);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : policy->parameters()) p.add_(torch::randn(p.sizes()) * 0.5);
  }
  RunningNormalizer normalizer(kStack + kPrivileged, 5.0, true);
  torch::Tensor data = torch::randn({300, kStack + kPrivileged}) * 2.0 + 1.0;
  normalizer.Update(data.data_ptr<float>(), 300);
  std::vector<std::string> names;
  for (const char* when : {"[t-2]", "[t-1]", ""}) {
    for (const char* name : {"a", "b", "c", "d"}) names.push_back(name + std::string(when));
  }
  names.insert(names.end(), {"mass_scale:torso", "gravity_scale"});
  PolicyMetadata meta{"hopper", names, {"u", "v"}, {-2.0, 0.0}, {2.0, 10.0}, 10, "name: test\n"};
  meta.obs_history = kHistory;
  const std::string dir = TempDir("export-history");
  ExportPolicy(policy, normalizer, meta, dir + "/policy.pt");
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module loaded = torch::jit::load(dir + "/policy.pt", torch::kCPU, extra);
  std::filesystem::remove_all(dir);

  // an episode of 7 steps for 2 robots, stacked as the env stacks it
  torch::NoGradGuard no_grad;
  const torch::Tensor steps = torch::randn({7, 2, kStep}) * 3.0;
  torch::Tensor stack = torch::zeros({2, kStack});
  torch::Tensor state = loaded.get_method("initial_state")({int64_t{2}}).toTensor();
  EXPECT_TRUE(torch::equal(state, torch::zeros({2, kStack})));
  loaded.get_method("reset")({});
  torch::jit::Method act = loaded.get_method("act");
  for (int t = 0; t < 7; ++t) {
    stack = torch::cat({stack.narrow(1, kStep, kStack - kStep), steps[t]}, 1);
    const torch::Tensor full = torch::cat({stack, torch::randn({2, kPrivileged})}, 1);
    const torch::Tensor want = policy->DeterministicAction(NormalizeObs(full, normalizer));
    const torch::Tensor before = state;
    const auto out = loaded.forward({steps[t], before}).toTuple();
    const torch::Tensor action = out->elements()[0].toTensor();
    state = out->elements()[1].toTensor();
    EXPECT_TRUE(torch::equal(state, stack)) << "step " << t;
    EXPECT_LE((action - want).abs().max().item<float>(), 1e-5) << "step " << t;
    // the module's own state gives the same
    EXPECT_TRUE(torch::equal(act({steps[t]}).toTensor(), action)) << "step " << t;
    const auto units = loaded.get_method("actuator_action")({steps[t], before});
    EXPECT_TRUE(torch::equal(units.toTuple()->elements()[0].toTensor(),
                             loaded.get_method("to_actuators")({action}).toTensor()));
    // the critic reads the stack and the privileged entries
    EXPECT_LE((loaded.get_method("value")({full}).toTensor() -
               policy->Value(NormalizeObs(full, normalizer)))
                  .abs()
                  .max()
                  .item<float>(),
              1e-4);
  }
  // actions away from zero, or the comparisons above would be weak
  const torch::Tensor last = torch::cat({stack, torch::zeros({2, kPrivileged})}, 1);
  EXPECT_GT(policy->DeterministicAction(NormalizeObs(last, normalizer)).abs().max().item<float>(),
            0.1f);
  // reset() starts from the initial state again, as does a batch of another size
  loaded.get_method("reset")({});
  const torch::Tensor first = act({steps[0]}).toTensor();
  const auto fresh = loaded.forward({steps[0], loaded.get_method("initial_state")({int64_t{2}})});
  EXPECT_TRUE(torch::equal(first, fresh.toTuple()->elements()[0].toTensor()));
  EXPECT_EQ(act({steps[0].narrow(0, 0, 1)}).toTensor().size(0), 1);

  const std::string& json = extra["metadata.json"];
  for (const char* field :
       {"\"obs_dim\": 4", "\"obs_names\": [\"a\", \"b\", \"c\", \"d\"]", "\"obs_history\": 3",
        "\"state_dim\": 12", "\"privileged_names\": [\"mass_scale:torso\", \"gravity_scale\"]"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

TEST(ExportTest, MemorylessPolicyActsThroughResetAndActToo) {
  Trained t = MakeTrained("elu");
  const std::string dir = TempDir("export-act");
  PolicyMetadata meta{"cartpole_swingup", {"a", "b", "c", "d", "e"}, {"u", "v"}, {}, {}, 0,
                      "name: test\n"};
  ExportPolicy(t.policy, t.normalizer, meta, dir + "/policy.pt");
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module loaded = torch::jit::load(dir + "/policy.pt", torch::kCPU, extra);
  std::filesystem::remove_all(dir);
  const torch::Tensor obs = torch::randn({6, 5}) * 3.0;
  loaded.get_method("reset")({});
  EXPECT_TRUE(
      torch::equal(loaded.get_method("act")({obs}).toTensor(), loaded.forward({obs}).toTensor()));
  EXPECT_FALSE(loaded.find_method("initial_state").has_value());
  EXPECT_NE(extra["metadata.json"].find("\"state_dim\": 0"), std::string::npos);
  EXPECT_NE(extra["metadata.json"].find("\"obs_history\": 1"), std::string::npos);
}

// One policy variant per PolicyConfig option, and all of them together.
struct Variant {
  std::string name;
  bool shared_trunk, state_dependent_std, tanh_squash, normalize_value;
};

class ExportVariantTest : public ::testing::TestWithParam<Variant> {};

TEST_P(ExportVariantTest, EveryMethodMatchesTheTrainedPolicy) {
  const Variant& v = GetParam();
  SeedTorch(12);
  PolicyConfig pc;
  pc.hidden = {32, 16};
  pc.shared_trunk = v.shared_trunk;
  pc.state_dependent_std = v.state_dependent_std;
  pc.tanh_squash = v.tanh_squash;
  pc.normalize_value = v.normalize_value;
  pc.log_std_range = {-1.0, 0.5};
  ActorCritic policy(5, 2, pc);
  {
    // weights far from the initial ones: large means, log stds on both sides of the range
    torch::NoGradGuard no_grad;
    for (auto& p : policy->parameters()) p.add_(torch::randn(p.sizes()) * 0.5);
  }
  policy->UpdateValueStatistics(torch::randn({1000}) * 40.0 + 150.0);
  RunningNormalizer normalizer(5, 5.0, true);
  torch::Tensor data = torch::randn({500, 5}) * 3.0 + 1.0;
  normalizer.Update(data.data_ptr<float>(), 500);

  const std::string dir = TempDir("export-" + v.name);
  PolicyMetadata meta{"cartpole_swingup", {"a", "b", "c", "d", "e"}, {"u", "v"}, {}, {}, 0,
                      "name: test\n"};
  ExportPolicy(policy, normalizer, meta, dir + "/policy.pt");
  torch::jit::Module loaded = torch::jit::load(dir + "/policy.pt");
  std::filesystem::remove_all(dir);

  torch::Tensor obs = torch::randn({1000, 5}) * 10.0;
  torch::NoGradGuard no_grad;
  torch::Tensor x = NormalizeObs(obs, normalizer);
  ActionDistribution dist = policy->Distribution(x);
  auto max_diff = [](const torch::Tensor& a, const torch::Tensor& b) {
    EXPECT_EQ(a.sizes(), b.sizes());
    return (a - b).abs().max().item<float>();
  };
  torch::Tensor action = loaded.forward({obs}).toTensor();
  EXPECT_LE(max_diff(action, policy->DeterministicAction(x)), 1e-5);
  EXPECT_LE(max_diff(loaded.get_method("action_mean")({obs}).toTensor(), dist.mean), 1e-5);
  EXPECT_LE(max_diff(loaded.get_method("action_log_std")({obs}).toTensor(), dist.log_std), 1e-5);
  torch::Tensor value = loaded.get_method("value")({obs}).toTensor();
  EXPECT_LE(max_diff(value, policy->Value(x)), 1e-5);
  // the test is only as strong as its data: squashing and clamping must matter here
  if (v.tanh_squash) {
    EXPECT_LE(max_diff(action, torch::tanh(dist.mean)), 1e-5);
    EXPECT_GT(dist.mean.abs().max().item<float>(), 1.5f);
  }
  if (v.state_dependent_std) {
    torch::Tensor column = dist.log_std.select(1, 0);
    EXPECT_GT((column.max() - column.min()).item<float>(), 0.1f)
        << "the std must vary with the state";
    EXPECT_FLOAT_EQ(dist.log_std.min().item<float>(), -1.0f);
    EXPECT_FLOAT_EQ(dist.log_std.max().item<float>(), 0.5f);
  }
  if (v.normalize_value) {
    EXPECT_GT(value.abs().mean().item<float>(), 50.0f);
  }
  // stochastic actions: in range, and noisy with the policy's std
  torch::manual_seed(3);
  torch::Tensor noisy = loaded.get_method("stochastic_action")({obs}).toTensor();
  EXPECT_LE(noisy.abs().max().item<float>(), 1.0f);
  EXPECT_GT((noisy - action).abs().mean().item<float>(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(
    PolicyOptions, ExportVariantTest,
    ::testing::Values(Variant{"default", false, false, false, false},
                      Variant{"shared_trunk", true, false, false, false},
                      Variant{"state_dependent_std", false, true, false, false},
                      Variant{"tanh_squash", false, false, true, false},
                      Variant{"normalize_value", false, false, false, true},
                      Variant{"all", true, true, true, true}),
    [](const ::testing::TestParamInfo<Variant>& param_info) { return param_info.param.name; });

TEST(CheckpointTest, RoundTripRestoresEverything) {
  Trained t = MakeTrained("elu");
  torch::optim::Adam optimizer(t.policy->parameters(), torch::optim::AdamOptions(1e-3));
  // one optimiser step so Adam has moments to save
  t.policy->Value(torch::randn({4, 5})).sum().backward();
  optimizer.step();
  TrainingCounters counters;
  counters.env_steps = 1000;
  counters.updates = 7;
  counters.policy_version = 7;
  counters.dropped_fragments = 3;
  counters.wall_s = 12.5;
  const std::string dir = TempDir("ckpt");
  std::string path = SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters);
  EXPECT_EQ(LatestCheckpoint(dir), path);
  // nothing but the checkpoints, their manifests and `latest`: no temporary left behind
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "latest" || name.rfind("ckpt-", 0) == 0) << name;
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
  }

  PolicyConfig pc;
  pc.hidden = {32, 16};
  ActorCritic restored(5, 2, pc);
  torch::optim::Adam restored_opt(restored->parameters(), torch::optim::AdamOptions(1e-3));
  RunningNormalizer restored_norm(5, 5.0, true);
  TrainingCounters restored_counters;
  LoadCheckpoint(path, restored, &restored_opt, &restored_norm, &restored_counters);
  EXPECT_TRUE(torch::equal(FlattenParameters(*restored), FlattenParameters(*t.policy)));
  EXPECT_EQ(restored_norm.mean(), t.normalizer.mean());
  EXPECT_EQ(restored_norm.var(), t.normalizer.var());
  EXPECT_EQ(restored_counters.env_steps, 1000);
  EXPECT_EQ(restored_counters.updates, 7);
  EXPECT_EQ(restored_counters.dropped_fragments, 3);
  EXPECT_DOUBLE_EQ(restored_counters.wall_s, 12.5);
  // Adam state came back: the same gradient gives the same step on both
  optimizer.zero_grad();
  restored_opt.zero_grad();
  for (auto* p : {&t.policy, &restored}) {
    torch::manual_seed(5);
    (*p)->Value(torch::randn({4, 5})).sum().backward();
  }
  optimizer.step();
  restored_opt.step();
  EXPECT_TRUE(torch::allclose(FlattenParameters(*restored), FlattenParameters(*t.policy)));

  // a damaged file is a clear error
  std::ofstream(dir + "/bad.pt") << "not a checkpoint";
  EXPECT_THROW(LoadCheckpoint(dir + "/bad.pt", restored, nullptr, nullptr, nullptr), UserError);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, ValueNormalisationStatisticsComeBack) {
  SeedTorch(13);
  PolicyConfig pc;
  pc.hidden = {8};
  pc.normalize_value = true;
  ActorCritic policy(5, 2, pc);
  policy->UpdateValueStatistics(torch::randn({200}) * 30.0 + 70.0);
  torch::optim::Adam optimizer(policy->parameters(), torch::optim::AdamOptions(1e-3));
  RunningNormalizer normalizer(5, 5.0, true);
  const std::string dir = TempDir("ckpt-value");
  const std::string path = SaveCheckpoint(dir, policy, optimizer, normalizer, TrainingCounters{});

  ActorCritic restored(5, 2, pc);
  LoadCheckpoint(path, restored, nullptr, nullptr, nullptr);
  EXPECT_DOUBLE_EQ(restored->value_count(), 200.0);
  EXPECT_TRUE(torch::equal(restored->value_mean_f32(), policy->value_mean_f32()));
  EXPECT_TRUE(torch::equal(restored->value_std_f32(), policy->value_std_f32()));
  torch::NoGradGuard no_grad;
  torch::Tensor obs = torch::randn({16, 5});
  EXPECT_TRUE(torch::equal(restored->Value(obs), policy->Value(obs)));
  // the statistics keep accumulating from where they were
  torch::Tensor more = torch::randn({50}) - 4.0;
  policy->UpdateValueStatistics(more);
  restored->UpdateValueStatistics(more);
  EXPECT_TRUE(torch::equal(restored->value_std_f32(), policy->value_std_f32()));
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, DamagedNewestFallsBackToThePreviousAndOldOnesArePruned) {
  Trained t = MakeTrained("elu");
  torch::optim::Adam optimizer(t.policy->parameters(), torch::optim::AdamOptions(1e-3));
  const std::string dir = TempDir("ckpt-damage");
  TrainingCounters counters;
  std::vector<std::string> paths;
  for (int update = 1; update <= 4; ++update) {
    counters.updates = update;
    paths.push_back(SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters, 3));
  }
  EXPECT_FALSE(std::filesystem::exists(paths[0])) << "only the newest 3 are kept";
  EXPECT_TRUE(std::filesystem::exists(paths[1]));
  EXPECT_EQ(LatestCheckpoint(dir), paths[3]);
  // one flipped byte in the newest: detected, the previous one is used
  {
    std::fstream f(paths[3], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char c = 0;
    f.read(&c, 1);
    f.seekp(100);
    c ^= 0x5A;
    f.write(&c, 1);
  }
  std::string problem;
  EXPECT_FALSE(VerifyCheckpoint(paths[3], &problem));
  EXPECT_NE(problem.find("CRC-32C"), std::string::npos) << problem;
  EXPECT_EQ(LatestCheckpoint(dir), paths[2]);
  // a truncated one too
  std::filesystem::resize_file(paths[2], std::filesystem::file_size(paths[2]) / 2);
  EXPECT_EQ(LatestCheckpoint(dir), paths[1]);
  TrainingCounters loaded;
  ActorCritic restored(5, 2, t.policy->config());
  LoadCheckpoint(LatestCheckpoint(dir), restored, nullptr, nullptr, &loaded);
  EXPECT_EQ(loaded.updates, 2);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, ManifestGivesTheEnvStepsAndDeterministicResumeNeedsTheActorState) {
  Trained t = MakeTrained("elu");
  torch::optim::Adam optimizer(t.policy->parameters(), torch::optim::AdamOptions(1e-3));
  const std::string dir = TempDir("ckpt-resumable");
  TrainingCounters counters;
  counters.updates = 2;
  counters.env_steps = 256;
  const std::string older = SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters);
  counters.updates = 3;
  counters.env_steps = 384;
  const std::string newer = SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters);
  EXPECT_EQ(CheckpointEnvSteps(older), 256);
  EXPECT_EQ(CheckpointEnvSteps(newer), 384);
  EXPECT_EQ(CheckpointEnvSteps(dir + "/ckpt-9.pt"), -1);
  EXPECT_EQ(LatestCheckpoint(dir, ResumableCheckpoints(dir, false)), newer);
  // deterministic: only a checkpoint with its actor's state beside it
  EXPECT_EQ(LatestCheckpoint(dir, ResumableCheckpoints(dir, true)), "");
  WriteStateFile(ActorStatePath(dir, 0, 2), "state");
  EXPECT_EQ(LatestCheckpoint(dir, ResumableCheckpoints(dir, true)), older);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, ACheckpointOfTheSameUpdateAndStepsStaysAndAnotherReplacesItWhole) {
  // a stop right after a periodic checkpoint asks for the same one again:
  // it stays as it was, never rewritten file by file
  Trained t = MakeTrained("elu");
  torch::optim::Adam optimizer(t.policy->parameters(), torch::optim::AdamOptions(1e-3));
  const std::string dir = TempDir("ckpt-again");
  TrainingCounters counters;
  counters.updates = 2;
  counters.env_steps = 256;
  const std::string path = SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters);
  const std::string before = testing::Slurp(path);
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : t.policy->parameters()) p.add_(1.0);
  }
  EXPECT_EQ(SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters), path);
  EXPECT_EQ(testing::Slurp(path), before);
  // the same update at other env steps is another state: replaced, whole
  counters.env_steps = 300;
  EXPECT_EQ(SaveCheckpoint(dir, t.policy, optimizer, t.normalizer, counters), path);
  EXPECT_NE(testing::Slurp(path), before);
  EXPECT_TRUE(VerifyCheckpoint(path));
  EXPECT_EQ(CheckpointEnvSteps(path), 300);
  std::filesystem::remove_all(dir);
}

TEST(ProgressTextTest, NeverPastOneHundredPercentAndNoUnknownEtaAtTheEnd) {
  // half way at 100 steps/s: 5 s left
  EXPECT_EQ(ProgressText(500, 1000, 100.0, 1.5, 0.25, 3, ""),
            "[ 50%] steps 500/1.0k | 100 sps | return 1.5 | lag 0.25 | dropped 3 | eta 5s");
  // the last batch went past the total: the real count, 100%, nothing left
  EXPECT_EQ(ProgressText(1024, 1000, 100.0, 1.5, 0.25, 0, " | x"),
            "[100%] steps 1.0k/1.0k | 100 sps | return 1.5 | lag 0.25 | dropped 0 | x | eta 0s");
  EXPECT_EQ(ProgressText(1000, 1000, 0.0, 1.5, 0.25, 0, "").substr(0, 6), "[100%]");
  EXPECT_NE(ProgressText(1000, 1000, 0.0, 1.5, 0.25, 0, "").find("eta 0s"), std::string::npos);
  // not there yet and nothing coming in: unknown
  EXPECT_NE(ProgressText(10, 1000, 0.0, 1.5, 0.25, 0, "").find("eta ?"), std::string::npos);
}

// Builds a fragment message for the batcher from plain vectors.
struct FragmentData {
  FragmentData(int t, int k, int d, int a) : T(t), K(k), D(d), A(a) {}
  int T, K, D, A;
  std::vector<float> obs, actions, log_probs, rewards, truncated_obs, returns;
  std::vector<uint8_t> terminated, truncated;
  std::vector<int32_t> lengths;
  wire::FragmentView View() const {
    wire::FragmentView v;
    v.T = T, v.K = K, v.D = D, v.A = A;
    v.N = static_cast<int>(truncated_obs.size() / D);
    v.obs = obs.data(), v.actions = actions.data(), v.log_probs = log_probs.data();
    v.rewards = rewards.data(), v.terminated = terminated.data(), v.truncated = truncated.data();
    v.truncated_obs = truncated_obs.data();
    return v;
  }
};

TEST(BuildRolloutBatchTest, BootstrapsThroughTruncationNotTermination) {
  Trained t = MakeTrained("elu");
  const int T = 3, K = 2, D = 5, A = 2;
  FragmentData f{T, K, D, A};
  torch::Tensor obs = torch::randn({T + 1, K, D});
  f.obs.assign(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel());
  f.actions.assign(T * K * A, 0.1f);
  f.log_probs.assign(T * K, -1.0f);
  f.rewards = {1, 2, 3, 4, 5, 6};
  f.terminated = {0, 0, 0, 1, 0, 0};  // env 1 terminates after step 1
  f.truncated = {0, 0, 1, 0, 0, 0};   // env 0 truncates after step 1
  f.truncated_obs = {0.5f, -0.5f, 1.0f, 2.0f, -3.0f};

  // two fragments side by side: the second with env columns swapped roles is not needed,
  // the same data twice checks the column offsets
  FragmentBatcher batcher(T, K, D, A, 2);
  batcher.Add(f.View());
  batcher.Add(f.View());
  ASSERT_TRUE(batcher.full());
  EXPECT_EQ(batcher.truncated_index().numel(), 2);

  AlgorithmConfig config;
  config.gamma = 0.9;
  config.gae_lambda = 0.7;
  algorithms::Ppo ppo(config, t.policy);
  algorithms::RolloutBatch batch = BuildRolloutBatch(batcher, t.policy, t.normalizer, ppo);
  ASSERT_EQ(batch.returns.numel(), T * 2 * K);

  torch::NoGradGuard no_grad;
  auto value = [&](const std::vector<float>& o) {
    torch::Tensor x = torch::from_blob(const_cast<float*>(o.data()), {1, D}).clone();
    return t.policy->Value(NormalizeObs(x, t.normalizer)).item<float>();
  };
  auto obs_at = [&](int step, int env) {
    return std::vector<float>(f.obs.begin() + (step * K + env) * D,
                              f.obs.begin() + (step * K + env + 1) * D);
  };
  const int B = 2 * K;
  for (int col : {0, K}) {
    // step 1, env 0 (truncated): advantage = r + gamma V(final obs) - V(s1); no carry from step 2
    float adv_trunc = batch.advantages[1 * B + col + 0].item<float>();
    EXPECT_NEAR(adv_trunc, 3.0f + 0.9f * value(f.truncated_obs) - value(obs_at(1, 0)), 1e-4);
    // step 1, env 1 (terminated): advantage = r - V(s1)
    float adv_term = batch.advantages[1 * B + col + 1].item<float>();
    EXPECT_NEAR(adv_term, 4.0f - value(obs_at(1, 1)), 1e-4);
    // step 2, env 0 (ordinary last step): bootstrap from obs row T
    float adv_last = batch.advantages[2 * B + col + 0].item<float>();
    EXPECT_NEAR(adv_last, 5.0f + 0.9f * value(obs_at(3, 0)) - value(obs_at(2, 0)), 1e-4);
  }
}

TEST(BuildRolloutBatchTest, ValueNormalisationDenormalisesTheValuesOfGae) {
  SeedTorch(14);
  PolicyConfig pc;
  pc.hidden = {16};
  pc.normalize_value = true;
  ActorCritic policy(5, 2, pc);
  // returns around 100 with std 10: de-normalised values are near 100
  policy->UpdateValueStatistics(torch::randn({1000}) * 10.0 + 100.0);
  RunningNormalizer normalizer(5, 5.0, false);
  const int T = 2, K = 1, D = 5, A = 2;
  FragmentData f{T, K, D, A};
  torch::Tensor obs = torch::randn({T + 1, K, D});
  f.obs.assign(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel());
  f.actions.assign(T * K * A, 0.0f);
  f.log_probs.assign(T * K, -1.0f);
  f.rewards = {1, 2};
  f.terminated = {0, 0};
  f.truncated = {0, 0};
  FragmentBatcher batcher(T, K, D, A, 1);
  batcher.Add(f.View());
  AlgorithmConfig config;
  config.gamma = 0.9;
  config.gae_lambda = 0.5;
  algorithms::Ppo ppo(config, policy);
  algorithms::RolloutBatch batch = BuildRolloutBatch(batcher, policy, normalizer, ppo);

  torch::NoGradGuard no_grad;
  torch::Tensor v = policy->Value(obs.reshape({T + 1, D}));
  EXPECT_GT(v.min().item<float>(), 50.0f);
  EXPECT_TRUE(torch::allclose(batch.values, v.slice(0, 0, T)));
  // t1: 2 + 0.9 V2 - V1; t0: 1 + 0.9 V1 - V0 + 0.45 a1
  const float a1 = 2.0f + 0.9f * v[2].item<float>() - v[1].item<float>();
  const float a0 = 1.0f + 0.9f * v[1].item<float>() - v[0].item<float>() + 0.45f * a1;
  EXPECT_NEAR(batch.advantages[1].item<float>(), a1, 1e-4);
  EXPECT_NEAR(batch.advantages[0].item<float>(), a0, 1e-4);
  EXPECT_TRUE(torch::allclose(batch.returns, batch.advantages + batch.values));
}

}  // namespace
}  // namespace robofleet::learner
