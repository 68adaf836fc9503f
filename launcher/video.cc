#include "launcher/video.h"

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/config.h"

namespace robofleet::launcher {

// The EGL display and context, made current on construction.
struct VideoRecorder::Gl {
  EGLDisplay display = EGL_NO_DISPLAY;
  EGLContext context = EGL_NO_CONTEXT;

  Gl() {
    // the surfaceless platform needs no window system and no GPU
    auto get_platform_display = reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(
        eglGetProcAddress("eglGetPlatformDisplayEXT"));
    if (get_platform_display != nullptr) {
      display = get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr);
    }
    if (display == EGL_NO_DISPLAY) display = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    EGLint major = 0, minor = 0;
    if (display == EGL_NO_DISPLAY || !eglInitialize(display, &major, &minor)) {
      throw UserError(
          "no EGL display for offscreen rendering; install libegl1 libegl-mesa0 "
          "libgl1-mesa-dri (or an NVIDIA driver with EGL)");
    }
    // a config is optional on surfaceless displays (EGL_KHR_no_config_context)
    const EGLint attributes[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
    EGLConfig config = nullptr;
    EGLint count = 0;
    if (!eglChooseConfig(display, attributes, &config, 1, &count) || count < 1) config = nullptr;
    eglBindAPI(EGL_OPENGL_API);
    context = eglCreateContext(display, config, EGL_NO_CONTEXT, nullptr);
    if (context == EGL_NO_CONTEXT ||
        !eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, context)) {
      throw UserError("cannot create an OpenGL context through EGL (error 0x" +
                      std::to_string(eglGetError()) +
                      "); install libgl1-mesa-dri for software rendering");
    }
  }
  ~Gl() {
    eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    if (context != EGL_NO_CONTEXT) eglDestroyContext(display, context);
    eglTerminate(display);
  }
};

VideoRecorder::VideoRecorder(const mjModel* model, const VideoOptions& options)
    : options_(options) {
  if (options.width <= 0 || options.height <= 0 || options.width % 2 || options.height % 2) {
    throw UserError("--width and --height must be positive and even (for H.264)");
  }
  // beyond 8K a typo would ask the GPU's offscreen buffer for gigabytes
  if (options.width > 7680 || options.height > 4320) {
    throw UserError("--width and --height must be at most 7680 x 4320 (got " +
                    std::to_string(options.width) + " x " + std::to_string(options.height) + ")");
  }
  gl_ = std::make_unique<Gl>();

  // our own model copy: the offscreen buffer size is a model field
  model_ = mj_copyModel(nullptr, model);
  model_->vis.global.offwidth = std::max(model_->vis.global.offwidth, options.width);
  model_->vis.global.offheight = std::max(model_->vis.global.offheight, options.height);
  mjv_defaultScene(&scene_);
  mjv_defaultCamera(&camera_);
  mjv_defaultOption(&option_);
  mjr_defaultContext(&context_);
  mjv_makeScene(model_, &scene_, 2000);
  mjr_makeContext(model_, &context_, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &context_);

  // a named camera, or one that follows the robot's root body
  if (!options.camera.empty()) {
    int id = mj_name2id(model_, mjOBJ_CAMERA, options.camera.c_str());
    if (id < 0) {
      std::string names;
      for (int i = 0; i < model_->ncam; ++i) {
        const char* n = mj_id2name(model_, mjOBJ_CAMERA, i);
        names += std::string(names.empty() ? "" : ", ") + (n ? n : "?");
      }
      throw UserError("no camera '" + options.camera +
                      "' in the model; cameras: " + (names.empty() ? "none" : names));
    }
    camera_.type = mjCAMERA_FIXED;
    camera_.fixedcamid = id;
  } else {
    camera_.type = mjCAMERA_TRACKING;
    camera_.trackbodyid = model_->nbody > 1 ? 1 : 0;
    camera_.distance = 2.0 * model_->stat.extent;
    camera_.elevation = -15.0;
    camera_.azimuth = 90.0;
  }

  // ffmpeg reads raw frames from a pipe; OpenGL rows run bottom-up, hence vflip.
  // The output is given as file:PATH, so that no path (one starting with
  // '-', or with a ':' that would read as a protocol) is taken for anything else.
  char fps[32];
  std::snprintf(fps, sizeof(fps), "%.6f", options.fps);
  SpawnOptions spawn;
  spawn.search_path = true;
  spawn.stdin_from = Redirect::Pipe();
  ffmpeg_ = Start({"ffmpeg",
                   "-loglevel",
                   "error",
                   "-y",
                   "-f",
                   "rawvideo",
                   "-pix_fmt",
                   "rgb24",
                   "-s",
                   std::to_string(options.width) + "x" + std::to_string(options.height),
                   "-r",
                   fps,
                   "-i",
                   "-",
                   "-vf",
                   "vflip",
                   "-pix_fmt",
                   "yuv420p",
                   "-c:v",
                   "libx264",
                   "file:" + options.path},
                  spawn);
  if (ffmpeg_.start_errno() == ENOENT) {
    throw UserError("ffmpeg is not installed; apt-get install ffmpeg");
  }
  if (!ffmpeg_.started()) throw UserError(ffmpeg_.start_error());
  rgb_.resize(static_cast<size_t>(options.width) * options.height * 3);
}

VideoRecorder::~VideoRecorder() {
  // end of input: ffmpeg closes what it has written
  if (ffmpeg_.pid() > 0) ffmpeg_.Wait();
  mjr_freeContext(&context_);
  mjv_freeScene(&scene_);
  if (model_ != nullptr) mj_deleteModel(model_);
}

void VideoRecorder::AddFrame(const mjData* data, const std::string& labels,
                             const std::string& values) {
  // mjv_updateScene takes mutable data but only reads it
  mjv_updateScene(model_, const_cast<mjData*>(data), &option_, nullptr, &camera_, mjCAT_ALL,
                  &scene_);
  const mjrRect viewport = {0, 0, options_.width, options_.height};
  mjr_render(viewport, &scene_, &context_);
  if (!labels.empty()) {
    mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, viewport, labels.c_str(), values.c_str(), &context_);
  }
  mjr_readPixels(rgb_.data(), nullptr, viewport, &context_);
  const std::string_view frame(reinterpret_cast<const char*>(rgb_.data()), rgb_.size());
  if (!ffmpeg_lost_ && !ffmpeg_.WriteStdin(frame)) ffmpeg_lost_ = true;
  ++frames_;
}

int VideoRecorder::Finish() {
  const int status = ffmpeg_.Wait();
  if (ffmpeg_lost_ || status != 0) {
    throw UserError("ffmpeg failed to write " + options_.path + " (" + DescribeStatus(status) +
                    "); its message is above");
  }
  return frames_;
}

}  // namespace robofleet::launcher
