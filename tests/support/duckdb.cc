#include "tests/support/duckdb.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

namespace strata::testing_support {

std::string sql_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}
}  // namespace

std::pair<int, std::string> run_command(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

Result<nlohmann::json> duckdb_query(const std::vector<std::string>& statements) {
  std::string cmd =
      "node " + shell_quote(std::string(STRATA_SOURCE_DIR) + "/tests/tools/duckdb_query.mjs");
  for (const std::string& s : statements) cmd += " " + shell_quote(s);
  std::string err_file = fresh_dir("duckdb_err") + "/stderr";
  cmd += " 2>" + shell_quote(err_file);
  auto [rc, out] = run_command(cmd);
  if (rc != 0) {
    std::string err;
    if (FILE* f = std::fopen(err_file.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) err.append(buf, n);
      std::fclose(f);
    }
    return Status::permanent("duckdb failed (exit " + std::to_string(rc) + "): " + err);
  }
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded())
    return Status::permanent("duckdb printed invalid JSON: " + out.substr(0, 200));
  return j;
}

std::string fresh_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  std::string root = base ? base : "/tmp";
  std::string dir = root + "/strata-test-" + std::to_string(::getpid()) + "-" + name + "-" +
                    std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace strata::testing_support
