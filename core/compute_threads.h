// How many threads a process computes with. LibTorch's intra-op pool (and
// the OpenMP runtime under it) follows torch::set_num_threads, but the BLAS
// that LibTorch calls for matrix products keeps its own threads: Debian's
// OpenBLAS starts one per core and splits every large enough product across
// them, so a learner told to use one thread computed on all of them, on the
// cores its actors need. SetComputeThreads sets every library that
// computes, through its own API, and reports what each then says.
#ifndef ROBOFLEET_CORE_COMPUTE_THREADS_H_
#define ROBOFLEET_CORE_COMPUTE_THREADS_H_

#include <string>

namespace robofleet {

struct ComputeThreads {
  int torch = 0;             // torch::get_num_threads()
  int openmp = -1;           // omp_get_max_threads(); -1: no OpenMP runtime loaded
  int blas = -1;             // the BLAS's own count; -1: it has no API for one
  std::string blas_library;  // the file that holds sgemm_ ("" when none is loaded)
  // "" when every library computes with the threads asked for; else what differs
  std::string problem;
};

// Sets LibTorch, OpenMP and the BLAS (OpenBLAS, pthread or OpenMP build,
// through openblas_set_num_threads; BLIS through bli_thread_set_num_threads;
// a BLAS without threads, such as the reference BLAS, needs nothing) to `n`
// threads and reads each back. When one cannot be set, `problem` says which,
// and `who` (e.g. "learner") prints it as one warning line on stderr.
ComputeThreads SetComputeThreads(int n, const char* who);

// One line for a log: "torch 1, OpenMP 1, BLAS 1 (/usr/lib/.../libblas.so.3)".
std::string Describe(const ComputeThreads& threads);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_COMPUTE_THREADS_H_
