#include "core/compute_threads.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace robofleet {
namespace {

// A function of a library this process has loaded, whichever provides it
// first (nullptr when none does): the BLAS and OpenMP runtime are LibTorch's
// dependencies, so they are in the process's global scope.
template <typename Fn>
Fn Find(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

std::string LibraryOf(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  char* resolved = realpath(info.dli_fname, nullptr);
  const std::string path = resolved != nullptr ? resolved : info.dli_fname;
  std::free(resolved);
  return path;
}

}  // namespace

ComputeThreads SetComputeThreads(int n, const char* who) {
  torch::set_num_threads(n);
  ComputeThreads threads;
  threads.torch = torch::get_num_threads();

  // LibTorch sets OpenMP's count itself when it was built with OpenMP; set it
  // anyway, for a BLAS that uses OpenMP under a LibTorch that does not
  if (auto set = Find<void (*)(int)>("omp_set_num_threads")) set(n);
  if (auto get = Find<int (*)()>("omp_get_max_threads")) threads.openmp = get();

  threads.blas_library = LibraryOf("sgemm_");
  if (auto set = Find<void (*)(int)>("openblas_set_num_threads")) {
    set(n);
    if (auto get = Find<int (*)()>("openblas_get_num_threads")) threads.blas = get();
  } else if (auto set_blis = Find<void (*)(long)>("bli_thread_set_num_threads")) {
    set_blis(n);
    if (auto get = Find<long (*)()>("bli_thread_get_num_threads")) {
      threads.blas = static_cast<int>(get());
    }
  }

  std::string problem;
  const auto note = [&](const std::string& what) {
    problem += (problem.empty() ? "" : "; ") + what;
  };
  if (threads.torch != n) note("LibTorch kept " + std::to_string(threads.torch) + " threads");
  if (threads.openmp != -1 && threads.openmp != n) {
    note("OpenMP kept " + std::to_string(threads.openmp) + " threads");
  }
  if (threads.blas != -1 && threads.blas != n) {
    note("the BLAS (" + threads.blas_library + ") kept " + std::to_string(threads.blas) +
         " threads");
  }
  threads.problem = problem;
  if (!problem.empty() && who != nullptr) {
    std::fprintf(stderr, "%s: warning: asked to compute with %d thread%s, but %s\n", who, n,
                 n == 1 ? "" : "s", problem.c_str());
  }
  return threads;
}

std::string Describe(const ComputeThreads& threads) {
  std::string line = "torch " + std::to_string(threads.torch);
  if (threads.openmp != -1) line += ", OpenMP " + std::to_string(threads.openmp);
  if (threads.blas != -1) {
    line += ", BLAS " + std::to_string(threads.blas);
  } else {
    line += ", BLAS without a thread count";
  }
  if (!threads.blas_library.empty()) line += " (" + threads.blas_library + ")";
  return line;
}

}  // namespace robofleet
