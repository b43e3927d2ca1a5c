// conduit: list, inspect, send, receive, watch, remove, benchmark, diagnose.
#include "tool.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "conduit: inspect and use conduit's interprocess objects (namespace: "
      "$CONDUIT_NAMESPACE or /dev/shm/conduit.<uid>)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "conduit 0.1.0");
  int exit_code = conduit::tool::kOk;
  conduit::tool::add_create(app, exit_code);
  conduit::tool::add_ls(app, exit_code);
  conduit::tool::add_stat(app, exit_code);
  conduit::tool::add_rm(app, exit_code);
  conduit::tool::add_send(app, exit_code);
  conduit::tool::add_recv(app, exit_code);
  conduit::tool::add_watch(app, exit_code);
  conduit::tool::add_doctor(app, exit_code);
  conduit::tool::add_bench(app, exit_code);
  conduit::tool::add_tour(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return conduit::tool::kUsage;
  }
  return exit_code;
}
