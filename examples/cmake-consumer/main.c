/* main.c — prints the libbitnet version and the number of tokens of a prompt for a model.
 * Usage: bitnet_consumer MODEL PROMPT */
#include <bitnet.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("libbitnet %s (header %d.%d.%d)\n", bitnet_version(), BITNET_VERSION_MAJOR,
           BITNET_VERSION_MINOR, BITNET_VERSION_PATCH);
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT\n", argv[0]);
        return 2;
    }
    bitnet_model *model = NULL;
    bitnet_status st = bitnet_model_load(argv[1], NULL, &model);
    if (st != BITNET_OK) {
        fprintf(stderr, "bitnet_consumer: %s (%s)\n", bitnet_last_error_message(),
                bitnet_status_string(st));
        return 1;
    }
    size_t n = 0;
    /* A first call with no buffer reports the number of tokens needed. */
    st = bitnet_tokenize(model, argv[2], strlen(argv[2]), 1, 0, NULL, 0, &n);
    if (st != BITNET_OK && st != BITNET_ERR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "bitnet_consumer: %s (%s)\n", bitnet_last_error_message(),
                bitnet_status_string(st));
        bitnet_model_free(model);
        return 1;
    }
    printf("%zu tokens\n", n);
    bitnet_model_free(model);
    return 0;
}
