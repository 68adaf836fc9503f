// Helpers shared by the learner's unit tests.
#ifndef ROBOFLEET_TESTS_LEARNER_LEARNER_TEST_UTIL_H_
#define ROBOFLEET_TESTS_LEARNER_LEARNER_TEST_UTIL_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "algorithms/algorithm.h"

namespace robofleet::learner::test {

// A TCP port on loopback that was free a moment ago (for a rendezvous store).
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// n samples of noise shaped like a PPO batch, on the CPU.
inline algorithms::RolloutBatch RandomBatch(int n, int obs_dim, int act_dim) {
  algorithms::RolloutBatch b;
  b.obs = torch::randn({n, obs_dim});
  b.actions = torch::randn({n, act_dim});
  b.log_probs = torch::randn({n}) - 2.0;
  b.advantages = torch::randn({n});
  b.returns = torch::randn({n});
  b.values = b.returns + 0.1 * torch::randn({n});
  return b;
}

}  // namespace robofleet::learner::test

#endif  // ROBOFLEET_TESTS_LEARNER_LEARNER_TEST_UTIL_H_
