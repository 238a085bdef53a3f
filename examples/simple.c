/*
 * simple.c — the smallest complete libbitnet program: load a model, stream a completion, free.
 *
 *   cc simple.c $(pkg-config --cflags --libs bitnet) -o simple
 *   ./simple model.gguf "The capital of France is" 32
 *
 * Usage: simple MODEL PROMPT [N_TOKENS]   (N_TOKENS defaults to 64)
 * Exit status: 0 on success, 1 on a library error, 2 on bad usage.
 */
#include <bitnet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams each piece as soon as the library produces it. Pieces are whole UTF-8 characters. */
static int print_piece(const char *piece, size_t piece_len, bitnet_token token, void *user_data) {
    (void)token;
    (void)user_data;
    fwrite(piece, 1, piece_len, stdout);
    fflush(stdout);
    return 0; /* non-zero would stop the generation */
}

/* Prints "simple: WHAT: <library message> (<status>)" to stderr. */
static void report(const char *what, bitnet_status st) {
    const char *msg = bitnet_last_error_message();
    fprintf(stderr, "simple: %s: %s (%s)\n", what, (msg && *msg) ? msg : "no details",
            bitnet_status_string(st));
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL PROMPT [N_TOKENS]\n", argv[0]);
        return 2;
    }
    const char *model_path = argv[1];
    const char *prompt = argv[2];
    long n_tokens = 64;
    if (argc == 4) {
        char *end = NULL;
        errno = 0;
        n_tokens = strtol(argv[3], &end, 10);
        if (errno != 0 || end == argv[3] || *end != '\0' || n_tokens < 0 || n_tokens > 1000000) {
            fprintf(stderr, "simple: N_TOKENS must be an integer in [0, 1000000], not '%s'\n",
                    argv[3]);
            return 2;
        }
    }

    int rc = 1;
    bitnet_model *model = NULL;
    bitnet_context *ctx = NULL;

    bitnet_model_params mp = bitnet_model_default_params();
    bitnet_status st = bitnet_model_load(model_path, &mp, &model);
    if (st != BITNET_OK) {
        report("cannot load the model", st);
        goto done;
    }

    bitnet_context_params cp = bitnet_context_default_params();
    st = bitnet_context_new(model, &cp, &ctx);
    if (st != BITNET_OK) {
        report("cannot create a context", st);
        goto done;
    }

    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = (int32_t)n_tokens;
    bitnet_generate_result result;
    memset(&result, 0, sizeof result);
    result.size = sizeof result;

    fputs(prompt, stdout);
    st = bitnet_generate(ctx, prompt, strlen(prompt), &gp, print_piece, NULL, &result);
    fputc('\n', stdout);
    fflush(stdout);
    if (st != BITNET_OK) {
        report("generation failed", st);
        goto done;
    }
    fprintf(stderr, "simple: libbitnet %s, %d prompt tokens (%.1f tok/s), %d generated (%.1f tok/s)\n",
            bitnet_version(), result.n_prompt_tokens, result.prompt_tokens_per_s,
            result.n_generated, result.generate_tokens_per_s);
    rc = 0;

done:
    bitnet_context_free(ctx); /* NULL is a no-op */
    bitnet_model_free(model);
    return rc;
}
