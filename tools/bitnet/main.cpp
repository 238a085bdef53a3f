// bitnet — command line tool of libbitnet: generate text, tokenize, dump logits, inspect and
// benchmark BitNet b1.58 GGUF models, and write random-weight test models.
#include <cstdio>
#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "common.h"
#include "kernels/kernels.h"

namespace {

std::string version_text() {
    std::string v = "bitnet " + std::string(bitnet_version());
    const int header = BITNET_VERSION_NUMBER;
    if (bitnet_version_number() != header) {
        v += " (warning: built against header version " + std::to_string(header / 10000) + "." +
             std::to_string(header / 100 % 100) + "." + std::to_string(header % 100) + ")";
    }
    // The kernels this CPU gets (BITNET_ISA may override), and whether AMX tiles are usable.
    v += "\nkernels: " + std::string(bitnet::kernels::isa_name(bitnet::kernels::best_isa())) + "; " +
         bitnet::kernels::amx_status();
    return v;
}

int run_guarded(const std::function<int()> &run) {
    try {
        return run();
    } catch (const bitnet_cli::Failure &f) {
        std::fflush(stdout);
        if (f.where.empty())
            std::fprintf(stderr, "bitnet: %s\n", f.message.c_str());
        else
            std::fprintf(stderr, "bitnet: %s: %s\n", f.where.c_str(), f.message.c_str());
        return f.code;
    } catch (const CLI::Error &e) {  // option checks done after parsing
        std::fflush(stdout);
        std::fprintf(stderr, "bitnet: %s\n", e.what());
        return bitnet_cli::kExitUsage;
    } catch (const std::bad_alloc &) {
        std::fflush(stdout);
        std::fprintf(stderr, "bitnet: out of memory\n");
        return bitnet_cli::kExitRuntime;
    } catch (const std::exception &e) {
        std::fflush(stdout);
        std::fprintf(stderr, "bitnet: %s\n", e.what());
        return bitnet_cli::kExitRuntime;
    }
}

// The library logs nothing by itself; the CLI shows its warnings (e.g. a bad BITNET_ISA).
void log_to_stderr(int level, const char *text, void *) {
    if (level >= BITNET_LOG_WARN) std::fprintf(stderr, "bitnet: %s\n", text);
}

}  // namespace

int main(int argc, char **argv) {
    bitnet_log_set(log_to_stderr, nullptr);
    CLI::App app{"bitnet — CPU inference for ternary BitNet b1.58 GGUF models (libbitnet " +
                     std::string(bitnet_version()) + ")",
                 "bitnet"};
    app.set_version_flag("--version", std::function<std::string()>(version_text),
                         "print the version and exit");
    app.require_subcommand(1);
    app.footer(
        "Run 'bitnet <command> --help' for the options of a command.\n"
        "Exit status: 0 success, 1 runtime error (bad model file, failed call), 2 usage error.");
    app.failure_message([](const CLI::App *a, const CLI::Error &e) -> std::string {
        std::string name = "bitnet";
        // Name the subcommand that failed, if any was selected.
        for (const CLI::App *sub : a->get_subcommands()) name += " " + sub->get_name();
        return "bitnet: " + std::string(e.what()) + "\nRun '" + name +
               " --help' for more information.\n";
    });

    std::vector<bitnet_cli::Command> commands;
    commands.push_back(bitnet_cli::add_generate(app));
    commands.push_back(bitnet_cli::add_tokenize(app));
    commands.push_back(bitnet_cli::add_logits(app));
    commands.push_back(bitnet_cli::add_info(app));
    commands.push_back(bitnet_cli::add_bench(app));
    commands.push_back(bitnet_cli::add_chat(app));
    commands.push_back(bitnet_cli::add_perplexity(app));
    commands.push_back(bitnet_cli::add_gen_model(app));
    commands.push_back(bitnet_cli::add_convert(app));
    commands.push_back(bitnet_cli::add_quantize(app));
    commands.push_back(bitnet_cli::add_gen_hf(app));
    commands.push_back(bitnet_cli::add_serve(app));

    // CLI11 would report an unknown command word as "A subcommand is required".
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        for (const auto &cmd : commands) known = known || cmd.app->check_name(argv[1]);
        if (!known) {
            std::fprintf(
                stderr,
                "bitnet: unknown command '%s'\nRun 'bitnet --help' for the list of commands.\n",
                argv[1]);
            return bitnet_cli::kExitUsage;
        }
    }

    // llama-server spells --parallel "-np", a two-letter short flag CLI11 cannot declare.
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::string &a : args) {
        if (a == "-np") a = "--parallel";
        else if (a.rfind("-np=", 0) == 0) a = "--parallel=" + a.substr(4);
    }
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector in reverse order

    try {
        app.parse(args);
    } catch (const CLI::ParseError &e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : bitnet_cli::kExitUsage;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bitnet: %s\n", e.what());
        return bitnet_cli::kExitUsage;
    }

    for (const auto &cmd : commands) {
        if (cmd.app->parsed()) return run_guarded(cmd.run);
    }
    std::fprintf(stderr, "bitnet: no command given; run 'bitnet --help'\n");
    return bitnet_cli::kExitUsage;
}
