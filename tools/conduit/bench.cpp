// conduit bench: the benchmark harness (bench/run), conduit beside its peers.
#include <unistd.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "tool.hpp"

namespace conduit::tool {

void add_bench(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Run the benchmarks beside the peers, as ratios");
  static bool quick = false;
  static bool smoke = false;
  bench->add_flag("--quick", quick, "The quick set (under a minute)");
  bench->add_flag("--smoke", smoke, "Every row once, tiny: checks the harness (as ctest does)")
      ->excludes("--quick");
  bench->allow_extras();
  bench->callback([bench, &exit_code] {
    const std::string runner = std::string(CONDUIT_SOURCE_DIR) + "/bench/run";
    if (::access(runner.c_str(), X_OK) != 0) {
      exit_code = report(Error(Errc::not_found, fmt::format("bench: {} is not there (conduit bench "
                                                            "runs from a build tree)",
                                                            runner)));
      return;
    }
    std::vector<std::string> args{runner, "--build", CONDUIT_BINARY_DIR};
    if (quick) args.emplace_back("--quick");
    if (smoke) args.emplace_back("--smoke");
    for (const auto& extra : bench->remaining()) args.push_back(extra);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(runner.c_str(), argv.data());
    exit_code = report(Error(Errc::io, fmt::format("bench: cannot run {}", runner)));
  });
}

}  // namespace conduit::tool
