// Offscreen rendering of MuJoCo envs into an MP4, with no display: an EGL
// context on Mesa's surfaceless platform (software rendering on machines
// without a GPU; the NVIDIA driver's EGL on GPU machines), MuJoCo's renderer,
// and ffmpeg reading raw RGB frames on a pipe.
//
// Not thread-safe: one recorder per process at a time (one GL context).
#ifndef ROBOFLEET_LAUNCHER_VIDEO_H_
#define ROBOFLEET_LAUNCHER_VIDEO_H_

#include <mujoco/mujoco.h>

#include <memory>
#include <string>
#include <vector>

#include "launcher/process.h"

namespace robofleet::launcher {

struct VideoOptions {
  std::string path;    // output .mp4
  int width = 640;     // pixels, even
  int height = 480;    // pixels, even
  double fps = 50.0;   // frames per second of the file
  std::string camera;  // a camera of the model; "" tracks the robot's root body
};

class VideoRecorder {
 public:
  // Sets up rendering for `model` (copied: the offscreen buffer size lives
  // in the model) and starts ffmpeg. Throws UserError naming what is missing
  // (EGL, ffmpeg, the camera) and how to install it.
  VideoRecorder(const mjModel* model, const VideoOptions& options);
  ~VideoRecorder();
  VideoRecorder(const VideoRecorder&) = delete;
  VideoRecorder& operator=(const VideoRecorder&) = delete;

  // Renders the state in `data` (of the model given at construction) as the
  // next frame, with `labels` and `values` (lines of text, side by side) in
  // its top left corner when given.
  void AddFrame(const mjData* data, const std::string& labels = "", const std::string& values = "");

  // Ends the file; returns the number of frames written. Throws if ffmpeg failed.
  int Finish();

 private:
  struct Gl;
  std::unique_ptr<Gl> gl_;
  VideoOptions options_;
  mjModel* model_ = nullptr;
  mjvScene scene_;
  mjvCamera camera_;
  mjvOption option_;
  mjrContext context_;
  std::vector<unsigned char> rgb_;
  Child ffmpeg_;              // reads raw frames on its stdin pipe
  bool ffmpeg_lost_ = false;  // a frame could not be written: ffmpeg has gone
  int frames_ = 0;
};

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_VIDEO_H_
