// bitnet tokenize: print the token ids of a text, comma-separated, on one line.
#include <cstdio>
#include <string>

#include "common.h"

namespace bitnet_cli {
namespace {

struct TokenizeOptions {
    std::string model;
    std::string prompt;
    std::string prompt_file;
    bool no_bos = false;
    bool no_parse_special = false;
    bool pieces = false;
};

int run_tokenize(const TokenizeOptions &o) {
    ModelPtr model = load_model(o.model);
    const std::string text = o.prompt_file.empty() ? o.prompt : read_file(o.prompt_file);
    const auto ids = tokenize(model.get(), text, !o.no_bos, !o.no_parse_special, o.model);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ',';
        line += std::to_string(ids[i]);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (o.pieces) {
        // One line per token on stderr: id and its bytes (escaped).
        std::string piece;
        for (const bitnet_token id : ids) {
            piece.assign(64, '\0');
            size_t n = 0;
            bitnet_status st =
                bitnet_token_to_piece(model.get(), id, 1, piece.data(), piece.size(), &n);
            if (st == BITNET_ERR_BUFFER_TOO_SMALL) {
                piece.assign(n, '\0');
                st = bitnet_token_to_piece(model.get(), id, 1, piece.data(), piece.size(), &n);
            }
            if (st != BITNET_OK) fail_status(o.model, st);
            piece.resize(n);
            std::fprintf(stderr, "%6d '%s'\n", id, printable(piece).c_str());
        }
    }
    if (std::fflush(stdout) != 0) fail("stdout", "write failed");
    return 0;
}

}  // namespace

Command add_tokenize(CLI::App &app) {
    auto o = std::make_shared<TokenizeOptions>();
    CLI::App *sub = app.add_subcommand("tokenize", "print the token ids of a text");
    sub->footer(
        "Prints only the token ids, comma-separated on one line, on stdout (e.g.\n"
        "128000,791,4062). BOS is prepended when the model asks for it (Llama 3: yes).");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required()->type_name("MODEL");
    auto *p =
        sub->add_option("-p,--prompt", o->prompt, "text to tokenize (UTF-8)")->type_name("TEXT");
    auto *f =
        sub->add_option("-f,--file", o->prompt_file, "read the text from a file ('-' = stdin)")
            ->type_name("FILE");
    p->excludes(f);
    f->excludes(p);
    sub->callback([p, f]() {
        if (p->count() == 0 && f->count() == 0)
            throw CLI::RequiredError("a text is required: give -p TEXT or -f FILE",
                                     CLI::ExitCodes::RequiredError);
    });
    sub->add_flag("--no-bos", o->no_bos, "do not prepend the BOS token");
    sub->add_flag("--no-parse-special", o->no_parse_special,
                  "tokenize control-token text such as <|eot_id|> as plain text");
    sub->add_flag("--show-pieces", o->pieces, "also print each token's id and text on stderr");
    return {sub, [o]() { return run_tokenize(*o); }};
}

}  // namespace bitnet_cli
