// conduit doctor: checks what conduit needs from this machine and says what to fix.
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

#include "tool.hpp"

namespace conduit::tool {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

struct Check {
  std::string what;
  bool ok;
  std::string detail;
  std::string fix;
};

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::vector<Check> run_checks() {
  std::vector<Check> checks;
  struct statfs fs{};
  if (::statfs("/dev/shm", &fs) != 0) {
    checks.push_back({"/dev/shm", false, "not mounted", "mount -t tmpfs tmpfs /dev/shm"});
  } else {
    const bool is_tmpfs = static_cast<long>(fs.f_type) == kTmpfsMagic;
    const double free_mib = static_cast<double>(fs.f_bavail) * fs.f_bsize / (1 << 20);
    const double size_mib = static_cast<double>(fs.f_blocks) * fs.f_bsize / (1 << 20);
    checks.push_back({"/dev/shm is tmpfs", is_tmpfs, is_tmpfs ? "yes" : "another file system",
                      "mount -t tmpfs tmpfs /dev/shm"});
    checks.push_back(
        {"/dev/shm free space", free_mib >= 64,
         fmt::format("{:.0f} MiB free of {:.0f} MiB", free_mib, size_mib),
         "mount -o remount,size=1G /dev/shm (or remove unused objects: conduit rm --dead)"});
  }
  auto space = Namespace::current();
  checks.push_back({"namespace", space.has_value(), space ? space->path() : space.error().message(),
                    "remove the directory, or set CONDUIT_NAMESPACE to a directory you own"});
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  checks.push_back({"open files limit", files.rlim_cur >= 1024, fmt::format("{}", files.rlim_cur),
                    "ulimit -n 4096"});
  rlimit locked{};
  ::getrlimit(RLIMIT_MEMLOCK, &locked);
  checks.push_back(
      {"locked memory limit", true,
       locked.rlim_cur == RLIM_INFINITY ? "unlimited" : fmt::format("{} bytes", locked.rlim_cur),
       ""});
  const std::string msg_max = read_line("/proc/sys/fs/mqueue/msg_max");
  const std::string msgsize_max = read_line("/proc/sys/fs/mqueue/msgsize_max");
  checks.push_back(
      {"POSIX mq limits (mq://)", !msg_max.empty(),
       msg_max.empty() ? "no /proc/sys/fs/mqueue"
                       : fmt::format("msg_max {}, msgsize_max {}", msg_max, msgsize_max),
       "mount -t mqueue none /dev/mqueue; sysctl fs.mqueue.msgsize_max=65536 for bigger messages"});
  const std::string msgmax = read_line("/proc/sys/kernel/msgmax");
  const std::string msgmnb = read_line("/proc/sys/kernel/msgmnb");
  checks.push_back({"System V queue limits (sysv://)", !msgmax.empty(),
                    msgmax.empty() ? "no /proc/sys/kernel/msgmax"
                                   : fmt::format("msgmax {}, msgmnb {}", msgmax, msgmnb),
                    "sysctl kernel.msgmax=65536 kernel.msgmnb=65536 for bigger messages"});
  const std::string roudi = find_program("iox-roudi");
  checks.push_back({"iox-roudi (iceoryx peer in benchmarks)", !roudi.empty(),
                    roudi.empty() ? "not found" : roudi,
                    "scripts/setup installs it (Debian iceoryx)"});
  const std::string mpirun = find_program("mpirun");
  checks.push_back({"mpirun (MPI backend and peer)", !mpirun.empty(),
                    mpirun.empty() ? "not found" : mpirun,
                    "scripts/setup installs it (Debian openmpi-bin)"});
  return checks;
}

}  // namespace

void add_doctor(CLI::App& app, int& exit_code) {
  auto* doctor = app.add_subcommand("doctor", "Check this machine for what conduit needs");
  static bool json = false;
  doctor->add_flag("--json", json, "Print JSON");
  doctor->callback([&exit_code] {
    const auto checks = run_checks();
    bool is_healthy = true;
    nlohmann::json listing = nlohmann::json::array();
    for (const auto& check : checks) {
      is_healthy = is_healthy && check.ok;
      if (json) {
        listing.push_back({{"check", check.what},
                           {"ok", check.ok},
                           {"detail", check.detail},
                           {"fix", check.ok ? "" : check.fix}});
        continue;
      }
      fmt::print("{} {:<40} {}\n", check.ok ? "ok  " : "FIX ", check.what, check.detail);
      if (!check.ok && !check.fix.empty()) fmt::print("     -> {}\n", check.fix);
    }
    if (json) fmt::print("{}\n", listing.dump(2));
    exit_code = is_healthy ? kOk : kFailed;
  });
}

}  // namespace conduit::tool
